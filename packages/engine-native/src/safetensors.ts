/**
 * safetensors headers: an 8-byte little-endian header length, a JSON header mapping tensor names to
 * { dtype, shape, data_offsets: [begin, end] } (relative to the end of the header), then the data.
 * Only headers are read here; the native side maps the data in place.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import { EngineError } from "./errors.js";

/** Plain element types (safetensors, GGUF F32/F16/BF16). */
export type PlainDtype = "f32" | "f16" | "bf16";
/** Block-quantized weight types (GGUF's layouts), kept quantized in memory. */
export type QuantDtype = "q8_0" | "q4_0" | "q4_1" | "q5_0" | "q5_1" | "q4_k" | "q5_k" | "q6_k";
export const QUANT_DTYPES: readonly QuantDtype[] = [
  "q8_0",
  "q4_0",
  "q4_1",
  "q5_0",
  "q5_1",
  "q4_k",
  "q5_k",
  "q6_k",
];
export type TensorDtype = PlainDtype | QuantDtype;

const DTYPES: Record<string, { dtype: PlainDtype; size: number }> = {
  F32: { dtype: "f32", size: 4 },
  F16: { dtype: "f16", size: 2 },
  BF16: { dtype: "bf16", size: 2 },
};

/** Where one tensor's bytes are: `offset` is absolute in `file`. */
export interface TensorInfo {
  name: string;
  file: string;
  dtype: TensorDtype;
  shape: number[];
  offset: number;
  nbytes: number;
}

/** Headers beyond this size are treated as corrupt rather than read (safetensors caps them at 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function corrupt(file: string, problem: string): never {
  throw new EngineError("model_invalid", `${file}: corrupt safetensors file: ${problem}`);
}

/** Reads and validates one file's header. Every tensor must lie inside the file. */
export function readSafetensorsHeader(file: string): TensorInfo[] {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    throw new EngineError("model_invalid", `${file}: cannot open weights (${(e as Error).message})`, {
      cause: e,
    });
  }
  try {
    const size = fstatSync(fd).size;
    if (size < 8) corrupt(file, `file is ${size} bytes, shorter than the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const headerLen = lenBuf.readBigUInt64LE(0);
    if (headerLen > BigInt(MAX_HEADER_BYTES) || headerLen > BigInt(size - 8))
      corrupt(file, `header length ${headerLen} exceeds the file size ${size}`);
    const n = Number(headerLen);
    const hdr = Buffer.alloc(n);
    if (readSync(fd, hdr, 0, n, 8) !== n) corrupt(file, "truncated header");
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(hdr.toString("utf8")) as Record<string, unknown>;
    } catch (e) {
      corrupt(file, `header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json))
      corrupt(file, "header is not an object");
    const dataStart = 8 + n;
    const out: TensorInfo[] = [];
    for (const [name, v] of Object.entries(json)) {
      if (name === "__metadata__") continue;
      const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dt = typeof t.dtype === "string" ? DTYPES[t.dtype] : undefined;
      if (!dt)
        throw new EngineError(
          "model_unsupported",
          `${file}: tensor ${name} has dtype ${JSON.stringify(t.dtype)}; supported: F32, F16, BF16`,
        );
      const shape = t.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
        corrupt(file, `tensor ${name} has an invalid shape ${JSON.stringify(shape)}`);
      const offs = t.data_offsets;
      if (
        !Array.isArray(offs) ||
        offs.length !== 2 ||
        !offs.every((o) => Number.isSafeInteger(o) && o >= 0) ||
        offs[1] < offs[0]
      )
        corrupt(file, `tensor ${name} has invalid data_offsets ${JSON.stringify(offs)}`);
      const [begin, end] = offs as [number, number];
      const elems = (shape as number[]).reduce((a, b) => a * b, 1);
      if (end - begin !== elems * dt.size)
        corrupt(
          file,
          `tensor ${name}: ${end - begin} bytes for shape [${shape.join(", ")}] ${t.dtype as string}`,
        );
      if (dataStart + end > size)
        corrupt(
          file,
          `tensor ${name} ends at byte ${dataStart + end}, past the end of the file (${size} bytes)`,
        );
      out.push({
        name,
        file,
        dtype: dt.dtype,
        shape: shape as number[],
        offset: dataStart + begin,
        nbytes: end - begin,
      });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/**
 * All tensors of a model directory: `model.safetensors.index.json` (sharded) when present, else the
 * single `model.safetensors`.
 */
export function readModelTensors(dir: string): Map<string, TensorInfo> {
  const index = join(dir, "model.safetensors.index.json");
  const tensors = new Map<string, TensorInfo>();
  let files: string[];
  let expected: Map<string, string> | null = null;
  if (existsSync(index)) {
    let weightMap: Record<string, unknown>;
    try {
      const j = JSON.parse(readFileSync(index, "utf8")) as { weight_map?: Record<string, unknown> };
      if (typeof j.weight_map !== "object" || j.weight_map === null) throw new Error("no weight_map object");
      weightMap = j.weight_map;
    } catch (e) {
      throw new EngineError("model_invalid", `${index}: invalid index (${(e as Error).message})`, {
        cause: e,
      });
    }
    expected = new Map(Object.entries(weightMap).map(([k, v]) => [k, String(v)]));
    files = [...new Set(expected.values())].map((f) => join(dir, f));
  } else {
    const single = join(dir, "model.safetensors");
    if (!existsSync(single))
      throw new EngineError(
        "model_invalid",
        `${dir}: no model.safetensors or model.safetensors.index.json found`,
      );
    files = [single];
  }
  for (const f of files) {
    if (!existsSync(f))
      throw new EngineError("model_invalid", `${f}: weight shard listed in ${index} is missing`);
    for (const t of readSafetensorsHeader(f)) tensors.set(t.name, t);
  }
  if (expected) {
    for (const [name, file] of expected) {
      if (!tensors.has(name))
        throw new EngineError(
          "model_invalid",
          `${join(dir, file)}: tensor ${name} listed in ${index} is missing`,
        );
    }
  }
  return tensors;
}
