/**
 * A minimal safetensors writer (https://github.com/huggingface/safetensors#format):
 * 8-byte little-endian header length N, N bytes of JSON header (padded with spaces so the data
 * starts 8-byte aligned), then the tensors' bytes back to back with no holes.
 *
 * Tensors are produced one at a time by a callback and streamed to disk, so a 440 MB model never
 * sits in memory whole.
 */
import { open } from "node:fs/promises";

export type SafetensorsDtype = "F32" | "F16" | "BF16";

const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface TensorEntry {
  /** Hugging Face tensor name, e.g. "model.layers.0.self_attn.q_proj.weight". */
  name: string;
  /** Row-major shape, e.g. [out_features, in_features] for a Linear weight. */
  shape: number[];
  dtype: SafetensorsDtype;
}

export function tensorByteLength(t: TensorEntry): number {
  return t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
}

/** Builds the header bytes (JSON padded to a multiple of 8) for `tensors` in the given order. */
export function buildSafetensorsHeader(
  tensors: TensorEntry[],
  metadata: Record<string, string> = {},
): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: "pt", ...metadata } };
  let offset = 0;
  const seen = new Set<string>();
  for (const t of tensors) {
    if (seen.has(t.name)) throw new Error(`safetensors: duplicate tensor name ${t.name}`);
    seen.add(t.name);
    if (t.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`safetensors: bad shape [${t.shape.join(", ")}] for ${t.name}`);
    }
    const len = tensorByteLength(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  // 8 bytes of length + header must end on an 8-byte boundary so f32/f64 data is aligned.
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += " ".repeat(pad);
  const body = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + body.length);
  out.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(out, 8);
  return out;
}

/**
 * Writes `tensors` to `path`. `produce(t)` is called once per tensor, in order, and must return
 * exactly tensorByteLength(t) bytes (little-endian element data).
 */
export async function writeSafetensors(
  path: string,
  tensors: TensorEntry[],
  produce: (t: TensorEntry) => Uint8Array,
  metadata: Record<string, string> = {},
): Promise<void> {
  const fh = await open(path, "w");
  try {
    const header = buildSafetensorsHeader(tensors, metadata);
    await fh.write(header);
    for (const t of tensors) {
      const bytes = produce(t);
      const want = tensorByteLength(t);
      if (bytes.byteLength !== want) {
        throw new Error(`safetensors: ${t.name} produced ${bytes.byteLength} bytes, expected ${want}`);
      }
      await fh.write(bytes);
    }
  } finally {
    await fh.close();
  }
}
