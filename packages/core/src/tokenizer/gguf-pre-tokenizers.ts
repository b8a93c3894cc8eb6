/**
 * The pre-tokenizers of byte-level BPE vocabularies, by the name a GGUF gives them in
 * `tokenizer.ggml.pre` (llama.cpp's names). Each is the tokenizer.json `pre_tokenizer` that the
 * model's own Hugging Face tokenizer uses: text is split the way the vocabulary's merges were
 * learned, then mapped to the byte alphabet. A name not listed here is refused (splitting text
 * another way gives other ids, and wrong-but-plausible text).
 */

const BYTE_LEVEL_REGEX = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
const BYTE_LEVEL_ONLY = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false };

/** Llama 3's split: contractions, letters with one leading non-letter, numbers of 1-3 digits. */
const LLAMA3_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Qwen2's split: as Llama 3's, with single digits. */
const QWEN2_SPLIT =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function splitThenBytes(pattern: string): Record<string, unknown> {
  return {
    type: "Sequence",
    pretokenizers: [
      { type: "Split", pattern: { Regex: pattern }, behavior: "Isolated", invert: false },
      BYTE_LEVEL_ONLY,
    ],
  };
}

const SMOLLM = {
  type: "Sequence",
  pretokenizers: [{ type: "Digits", individual_digits: true }, BYTE_LEVEL_REGEX],
};

const PRE_TOKENIZERS: Record<string, Record<string, unknown>> = {
  default: BYTE_LEVEL_REGEX,
  gpt2: BYTE_LEVEL_REGEX,
  smollm: SMOLLM,
  "llama-bpe": splitThenBytes(LLAMA3_SPLIT),
  llama3: splitThenBytes(LLAMA3_SPLIT),
  "llama-v3": splitThenBytes(LLAMA3_SPLIT),
  "smaug-bpe": splitThenBytes(LLAMA3_SPLIT),
  falcon3: splitThenBytes(LLAMA3_SPLIT),
  qwen2: splitThenBytes(QWEN2_SPLIT),
  "deepseek-r1-qwen": splitThenBytes(QWEN2_SPLIT),
};

export const GGUF_PRE_TOKENIZER_NAMES = Object.keys(PRE_TOKENIZERS);

/** The tokenizer.json pre_tokenizer for `name`, or undefined when it is not implemented. */
export function ggufPreTokenizer(name: string): Record<string, unknown> | undefined {
  return PRE_TOKENIZERS[name];
}
