/**
 * The exact bytes of one token, as OpenAI's logprobs report them (`token` and `bytes`).
 *
 * Decoding a token on its own loses what the tokenizer's decoder strips at the start of a text
 * (SentencePiece's leading space) and mangles a token that holds part of a UTF-8 character. The
 * bytes come from the vocabulary piece instead:
 * - byte-level BPE (GPT-2, Llama 3, SmolLM2): each character of the piece stands for one byte
 *   through GPT-2's printable byte alphabet;
 * - SentencePiece-style BPE: `▁` is a space and `<0xNN>` is the byte NN;
 * - added tokens (special or not): their content in UTF-8.
 * The vocabulary style is read off the vocabulary itself (a byte-level vocabulary holds `Ġ`, the
 * space byte's character), so a tokenizer built from any source works.
 */
import type { ModelTokenizer } from "./tokenizer.js";

/** GPT-2's bytes_to_unicode table, inverted: printable character → byte. */
function byteLevelAlphabet(): Map<string, number> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const direct = new Set(printable);
  const out = new Map<string, number>();
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const cp = direct.has(b) ? b : 256 + shifted++;
    out.set(String.fromCodePoint(cp), b);
  }
  return out;
}

const BYTE_LEVEL = byteLevelAlphabet();
const SP_BYTE = /^<0x([0-9A-Fa-f]{2})>$/;
const utf8 = new TextEncoder();

type VocabStyle = "byte_level" | "sentencepiece";

const styles = new WeakMap<ModelTokenizer, VocabStyle>();

function styleOf(tok: ModelTokenizer): VocabStyle {
  let s = styles.get(tok);
  if (s === undefined) {
    s = tok.tokenToId("Ġ") !== undefined ? "byte_level" : "sentencepiece";
    styles.set(tok, s);
  }
  return s;
}

function byteLevelBytes(piece: string): Uint8Array | null {
  const out: number[] = [];
  for (const ch of piece) {
    const b = BYTE_LEVEL.get(ch);
    if (b === undefined) return null; // not a byte-level piece (an added token's text)
    out.push(b);
  }
  return Uint8Array.from(out);
}

function sentencePieceBytes(piece: string): Uint8Array {
  const m = SP_BYTE.exec(piece);
  if (m) return Uint8Array.of(Number.parseInt(m[1]!, 16));
  return utf8.encode(piece.replaceAll("▁", " "));
}

/** The bytes token `id` stands for; empty for an id outside the vocabulary. */
export function tokenBytes(tok: ModelTokenizer, id: number): Uint8Array {
  const piece = tok.idToToken(id);
  if (piece === undefined) return new Uint8Array(0);
  if (tok.isAddedToken(id)) return utf8.encode(piece);
  if (styleOf(tok) === "byte_level") return byteLevelBytes(piece) ?? utf8.encode(piece);
  return sentencePieceBytes(piece);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The `token` string of a token's bytes: the text when they are whole UTF-8, else OpenAI's
 * `bytes:\xNN...` spelling of the raw bytes (a token that holds part of a character).
 */
export function tokenString(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return `bytes:${[...bytes].map((b) => `\\x${b.toString(16).padStart(2, "0")}`).join("")}`;
  }
}
