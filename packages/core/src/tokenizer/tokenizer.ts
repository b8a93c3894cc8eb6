/**
 * The model's tokenizer: tokenizer.json (+ tokenizer_config.json) through @huggingface/tokenizers,
 * a pure-JS port of HF's Rust tokenizers that produces the same ids (byte-level BPE and
 * SentencePiece-style BPE with byte fallback both work).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { findGgufFile } from "@radixserve/gguf";
import { RadixServeError } from "../errors/index.js";
import { loadGgufTokenizer } from "./gguf-tokenizer.js";
import { readModelJson, specialTokenContent } from "./model-files.js";

export interface EncodeOptions {
  /** Add the tokenizer's special tokens (BOS for Llama) around the text. Default true. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, EOS, <|im_end|>, ...) from the text. Default false. */
  skipSpecialTokens?: boolean;
}

export class ModelTokenizer {
  /** One past the largest token id the tokenizer knows (base vocabulary + added tokens). */
  readonly vocabSize: number;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** Ids of every added token marked special. */
  readonly specialTokenIds: ReadonlySet<number>;
  /** Ids of every added token (special or not): their piece is their literal text. */
  private readonly addedTokenIds: ReadonlySet<number>;
  /**
   * The raw chat template, or null: `chat_template.jinja` (transformers 5) when the model has one,
   * else tokenizer_config.json's `chat_template` (a string, or the "default" of a list of named
   * templates), else the GGUF's `tokenizer.chat_template`.
   */
  readonly chatTemplate: string | null;

  constructor(
    private readonly tok: HfTokenizer,
    readonly config: Record<string, unknown>,
    chatTemplateFile: string | null = null,
  ) {
    let maxId = -1;
    for (const id of tok.get_vocab(true).values()) maxId = Math.max(maxId, id);
    const special = new Set<number>();
    const addedIds = new Set<number>();
    for (const [id, added] of tok.get_added_tokens_decoder()) {
      maxId = Math.max(maxId, id);
      addedIds.add(id);
      if (added.special) special.add(id);
    }
    this.vocabSize = maxId + 1;
    this.specialTokenIds = special;
    this.addedTokenIds = addedIds;
    this.bosToken = specialTokenContent(config["bos_token"]);
    this.eosToken = specialTokenContent(config["eos_token"]);
    this.bosTokenId = this.bosToken === null ? null : (tok.token_to_id(this.bosToken) ?? null);
    this.eosTokenId = this.eosToken === null ? null : (tok.token_to_id(this.eosToken) ?? null);
    this.chatTemplate = chatTemplateFile ?? pickChatTemplate(config["chat_template"]);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== "string")
      throw new RadixServeError("invalid_request", "text to encode must be a string");
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true }).ids;
  }

  /** Throws invalid_request for ids outside [0, vocabSize). */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const list = Array.from(ids);
    for (const id of list) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.tok.id_to_token(id) === undefined) {
        throw new RadixServeError(
          "invalid_request",
          `token id ${id} is not in the vocabulary (size ${this.vocabSize})`,
        );
      }
    }
    if (list.length === 0) return ""; // the library rejects an empty list
    return this.tok.decode(list, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  isAddedToken(id: number): boolean {
    return this.addedTokenIds.has(id);
  }
}

/**
 * tokenizer_config.json's chat_template: a string, or a list of { name, template } where
 * transformers uses "default" (or the only one). A list with several and no "default" is refused.
 */
function pickChatTemplate(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    const named = v as { name?: unknown; template?: unknown }[];
    const def = named.find((t) => t.name === "default") ?? (named.length === 1 ? named[0] : undefined);
    if (typeof def?.template === "string") return def.template;
    throw new RadixServeError(
      "internal",
      `tokenizer_config.json: chat_template lists templates ${JSON.stringify(named.map((t) => t.name))} and none is "default"`,
    );
  }
  throw new RadixServeError(
    "internal",
    `tokenizer_config.json: chat_template must be a string or a list of named templates`,
  );
}

/**
 * Loads the model's tokenizer: from a GGUF file's metadata when `modelDir` is a `.gguf` file or a
 * directory holding one (see findGgufFile), else tokenizer.json and tokenizer_config.json
 * (optional) of a HF model directory.
 */
export async function loadTokenizer(modelDir: string): Promise<ModelTokenizer> {
  const gguf = findGgufFile(modelDir);
  if (gguf !== null) return loadGgufTokenizer(gguf);
  const json = await readModelJson(modelDir, "tokenizer.json");
  const config = (await readModelJson(modelDir, "tokenizer_config.json", true)) ?? {};
  let tok: HfTokenizer;
  try {
    tok = new HfTokenizer(json, config);
  } catch (err) {
    throw new RadixServeError(
      "internal",
      `cannot build the tokenizer of ${modelDir}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const jinja = join(modelDir, "chat_template.jinja");
  const chatTemplateFile = existsSync(jinja) ? await readFile(jinja, "utf8") : null;
  return new ModelTokenizer(tok, config, chatTemplateFile);
}
