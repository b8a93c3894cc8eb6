// Writes quantized rows of every block type the engine decodes (made by the engine's quantizer from
// fixed values) for gguf_dequant.py to dequantize with llama.cpp's Python reference.
// Usage: node --import tsx tools/oracle/gguf-quant-rows.ts packages/engine-native/test/fixtures/quant-blocks.json
import { writeFileSync } from "node:fs";
import { nativeAddon } from "../../packages/engine-native/src/native.js";

const out = process.argv[2];
if (!out) throw new Error("usage: gguf-quant-rows.ts OUT.json");
const a = nativeAddon();
const cases = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q4_k", "q5_k", "q6_k"].map((dtype) => {
  const rows = 2;
  const cols = 256;
  const x = new Float32Array(rows * cols).map((_, i) => Math.sin(i * 0.37) * (1 + (i % 7)) - 0.5);
  const bytes = a.quantizeRows({ dtype, rows, cols, x });
  return { dtype, rows, cols, bytes: Buffer.from(bytes).toString("base64") };
});
writeFileSync(out, JSON.stringify({ cases }));
