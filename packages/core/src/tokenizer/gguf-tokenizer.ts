/**
 * A tokenizer built from a GGUF file's metadata (`tokenizer.ggml.*`), the way transformers builds
 * one for `from_pretrained(..., gguf_file=...)`: the metadata becomes a tokenizer.json object run by
 * the same library as HF directories, and a tokenizer_config-like object (special tokens, add_bos,
 * `tokenizer.chat_template`), so the rest of the server cannot tell the two apart.
 *
 * - `gpt2` (byte-level BPE): tokens re-spelled into the byte alphabet where needed, the file's
 *   merges, and the pre-tokenizer named by `tokenizer.ggml.pre` (gguf-pre-tokenizers.ts; an unknown
 *   name is refused).
 * - `llama` (SentencePiece BPE): byte fallback, "▁" for spaces prepended to the first word, merges
 *   from the file or, when it has none, recovered from the vocabulary and its scores (best score
 *   first, as transformers does).
 *
 * Token types: CONTROL (3) tokens are special added tokens, USER_DEFINED (4) plain added tokens
 * (both matched whole in text). bos/eos/unk/pad come from `tokenizer.ggml.*_token_id`;
 * `tokenizer.ggml.add_bos_token` (default true for `llama`, false otherwise) and
 * `add_eos_token` put them around encoded text.
 */

import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import {
  type GgufFile,
  ggufBool,
  ggufInt,
  ggufNumberArray,
  ggufString,
  ggufStringArray,
  readGguf,
} from "@radixserve/gguf";
import { RadixServeError } from "../errors/index.js";
import { GGUF_PRE_TOKENIZER_NAMES, ggufPreTokenizer } from "./gguf-pre-tokenizers.js";
import { ModelTokenizer } from "./tokenizer.js";

const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

function fail(f: GgufFile, problem: string): never {
  throw new RadixServeError("internal", `${f.path}: ${problem}`);
}

/** GPT-2's byte → printable-character map (bytes_to_unicode). */
function byteAlphabet(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++);
  return out;
}

interface Vocab {
  tokens: string[];
  types: number[];
}

function addedTokens(v: Vocab, special: (token: string) => boolean): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  v.tokens.forEach((content, id) => {
    const type = v.types[id];
    if (type !== TOKEN_TYPE_CONTROL && type !== TOKEN_TYPE_USER_DEFINED) return;
    const isSpecial = type === TOKEN_TYPE_CONTROL;
    if (isSpecial && !special(content)) return;
    out.push({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: isSpecial,
    });
  });
  return out;
}

function byteLevelModel(f: GgufFile, v: Vocab): Record<string, unknown> {
  const alphabet = byteAlphabet();
  const inAlphabet = new Set(alphabet);
  const spelled = (t: string) => [...t].every((ch) => inAlphabet.has(ch));
  const vocab: Record<string, number> = {};
  v.tokens.forEach((t, id) => {
    const key = spelled(t) ? t : [...Buffer.from(t, "utf8")].map((b) => alphabet[b]).join("");
    vocab[key] = id;
  });
  const merges =
    ggufStringArray(f, "tokenizer.ggml.merges") ?? fail(f, "a gpt2 tokenizer without tokenizer.ggml.merges");
  const pre = ggufString(f, "tokenizer.ggml.pre") ?? "default";
  const preTokenizer = ggufPreTokenizer(pre);
  if (preTokenizer === undefined)
    fail(
      f,
      `tokenizer.ggml.pre = ${JSON.stringify(pre)} is not supported (supported: ${GGUF_PRE_TOKENIZER_NAMES.join(", ")})`,
    );
  return {
    // A CONTROL token outside the byte alphabet is a mislabelled ordinary token (transformers skips it too).
    added_tokens: addedTokens(v, spelled),
    normalizer: null,
    pre_tokenizer: preTokenizer,
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

/** SentencePiece merges recovered from the vocabulary: every split of a token into two known pieces, best score first. */
function mergesFromScores(tokens: string[], scores: number[]): string[] {
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const all: { l: string; r: string; score: number }[] = [];
  tokens.forEach((token, i) => {
    const chars = [...token];
    const local: { l: string; r: string; score: number }[] = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join("");
      const r = chars.slice(k).join("");
      if (ids.has(l) && ids.has(r)) local.push({ l, r, score: scores[i]! });
    }
    local.sort((a, b) => ids.get(a.l)! - ids.get(b.l)! || ids.get(a.r)! - ids.get(b.r)!);
    all.push(...local);
  });
  // Stable sort, best first: by score, then longer left piece, then longer right piece.
  all.sort(
    (a, b) => b.score - a.score || [...b.l].length - [...a.l].length || [...b.r].length - [...a.r].length,
  );
  return all.map((m) => `${m.l} ${m.r}`);
}

function sentencePieceModel(f: GgufFile, v: Vocab): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  v.tokens.forEach((t, id) => {
    vocab[t] = id;
  });
  const scores = ggufNumberArray(f, "tokenizer.ggml.scores");
  const merges =
    ggufStringArray(f, "tokenizer.ggml.merges") ??
    mergesFromScores(
      v.tokens,
      scores ?? fail(f, "a llama tokenizer with neither tokenizer.ggml.merges nor scores"),
    );
  const unkId = ggufInt(f, "tokenizer.ggml.unknown_token_id");
  return {
    added_tokens: addedTokens(v, () => true),
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "first", split: false },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "▁" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: unkId === undefined ? null : (v.tokens[unkId] ?? null),
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

function postProcessor(
  bos: string | null,
  eos: string | null,
  addBos: boolean,
  addEos: boolean,
  ids: Map<string, number>,
) {
  if (!(addBos && bos !== null) && !(addEos && eos !== null)) return null;
  const single: unknown[] = [];
  const pair: unknown[] = [];
  const special: Record<string, unknown> = {};
  const mark = (tok: string, seq: unknown[], typeId: number) => {
    seq.push({ SpecialToken: { id: tok, type_id: typeId } });
    special[tok] = { id: tok, ids: [ids.get(tok)], tokens: [tok] };
  };
  if (addBos && bos !== null) mark(bos, single, 0);
  single.push({ Sequence: { id: "A", type_id: 0 } });
  if (addEos && eos !== null) mark(eos, single, 0);
  if (addBos && bos !== null) mark(bos, pair, 1);
  pair.push({ Sequence: { id: "B", type_id: 1 } });
  if (addEos && eos !== null) mark(eos, pair, 1);
  return { type: "TemplateProcessing", single, pair: [...single, ...pair], special_tokens: special };
}

/** The tokenizer.json and tokenizer_config objects that the GGUF's metadata describes. */
export function ggufTokenizerFiles(f: GgufFile): {
  json: Record<string, unknown>;
  config: Record<string, unknown>;
} {
  const model =
    ggufString(f, "tokenizer.ggml.model") ?? fail(f, "the GGUF has no tokenizer (tokenizer.ggml.model)");
  const tokens =
    ggufStringArray(f, "tokenizer.ggml.tokens") ?? fail(f, "the GGUF has no tokenizer.ggml.tokens");
  const types = ggufNumberArray(f, "tokenizer.ggml.token_type") ?? [];
  if (types.length !== 0 && types.length !== tokens.length)
    fail(f, `tokenizer.ggml.token_type has ${types.length} entries for ${tokens.length} tokens`);
  const v = { tokens, types };
  let json: Record<string, unknown>;
  if (model === "gpt2") json = byteLevelModel(f, v);
  else if (model === "llama") json = sentencePieceModel(f, v);
  else fail(f, `tokenizer.ggml.model = ${JSON.stringify(model)} is not supported (supported: gpt2, llama)`);

  const tokenOf = (key: string): string | null => {
    const id = ggufInt(f, `tokenizer.ggml.${key}`);
    if (id === undefined) return null;
    if (id < 0 || id >= tokens.length)
      fail(f, `tokenizer.ggml.${key} = ${id} is outside the vocabulary (${tokens.length})`);
    return tokens[id]!;
  };
  const bos = tokenOf("bos_token_id");
  const eos = tokenOf("eos_token_id");
  const addBos = ggufBool(f, "tokenizer.ggml.add_bos_token") ?? model === "llama";
  const addEos = ggufBool(f, "tokenizer.ggml.add_eos_token") ?? false;
  const ids = new Map(tokens.map((t, i) => [t, i]));
  json["post_processor"] = postProcessor(bos, eos, addBos, addEos, ids);
  json["version"] = "1.0";
  const config: Record<string, unknown> = {
    bos_token: bos,
    eos_token: eos,
    unk_token: tokenOf("unknown_token_id"),
    pad_token: tokenOf("padding_token_id"),
    add_bos_token: addBos,
    add_eos_token: addEos,
    chat_template: ggufString(f, "tokenizer.chat_template") ?? null,
    // Decoded text is exactly the tokens' bytes, as llama.cpp decodes GGUF models: the library's
    // default clean-up (" ," -> ",", " ." -> ".") would change what the model wrote, and break
    // output a grammar constrained token by token (JSON ` ,` between members).
    clean_up_tokenization_spaces: false,
  };
  return { json, config };
}

/** Loads the tokenizer of the GGUF file at `path` (or of an already read file). */
export function loadGgufTokenizer(file: string | GgufFile): ModelTokenizer {
  const f = typeof file === "string" ? readGguf(file) : file;
  const { json, config } = ggufTokenizerFiles(f);
  let tok: HfTokenizer;
  try {
    tok = new HfTokenizer(json, config);
  } catch (err) {
    throw new RadixServeError(
      "internal",
      `${f.path}: cannot build the tokenizer: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return new ModelTokenizer(tok, config);
}
