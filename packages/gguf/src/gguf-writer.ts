/**
 * Writes GGUF files (version 3): the header from metadata entries and tensor descriptions, then
 * each tensor's bytes at its aligned offset. Used by tests and tools to make small GGUF files; the
 * caller gives tensor data already in the tensor's ggml type.
 */
import { writeFileSync } from "node:fs";
import { ggmlTypeByName } from "./ggml-types.js";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_SCALAR_BYTES,
  GGUF_VALUE_TYPES,
  type GgufMetadataEntry,
  type GgufValue,
  type GgufValueType,
} from "./gguf-format.js";

export interface GgufTensorToWrite {
  name: string;
  /** Dimensions outermost first (PyTorch order); written innermost first as ggml wants. */
  shape: number[];
  /** ggml type name ("F32", "Q8_0", ...). */
  type: string;
  data: Uint8Array;
}

class ByteSink {
  private parts: Buffer[] = [];
  length = 0;

  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v: number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  string(s: string): void {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.push(b);
  }
  concat(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function typeId(t: GgufValueType): number {
  return GGUF_VALUE_TYPES.indexOf(t);
}

function writeScalar(s: ByteSink, t: GgufValueType, v: GgufValue): void {
  if (t === "string") {
    s.string(v as string);
    return;
  }
  const b = Buffer.alloc(GGUF_SCALAR_BYTES[t]!);
  if (t === "uint8") b.writeUInt8(v as number);
  else if (t === "int8") b.writeInt8(v as number);
  else if (t === "uint16") b.writeUInt16LE(v as number);
  else if (t === "int16") b.writeInt16LE(v as number);
  else if (t === "uint32") b.writeUInt32LE(v as number);
  else if (t === "int32") b.writeInt32LE(v as number);
  else if (t === "float32") b.writeFloatLE(v as number);
  else if (t === "float64") b.writeDoubleLE(v as number);
  else if (t === "bool") b.writeUInt8(v ? 1 : 0);
  else if (t === "uint64") b.writeBigUInt64LE(BigInt(v as number | bigint));
  else if (t === "int64") b.writeBigInt64LE(BigInt(v as number | bigint));
  s.push(b);
}

function writeValue(s: ByteSink, e: GgufMetadataEntry): void {
  s.u32(typeId(e.type));
  if (e.type !== "array") {
    writeScalar(s, e.type, e.value);
    return;
  }
  const elementType = e.elementType!;
  const items = Array.from(e.value as ArrayLike<GgufValue>);
  s.u32(typeId(elementType));
  s.u64(items.length);
  for (const item of items) {
    if (elementType === "array") throw new Error("writing nested arrays is not supported");
    writeScalar(s, elementType, item);
  }
}

/** Encodes a whole GGUF file (header and data). */
export function encodeGguf(
  metadata: Map<string, GgufMetadataEntry> | Record<string, GgufMetadataEntry>,
  tensors: GgufTensorToWrite[],
): Buffer {
  const entries = metadata instanceof Map ? [...metadata] : Object.entries(metadata);
  const align = entries.find(([k]) => k === "general.alignment")?.[1].value;
  const alignment = typeof align === "number" ? align : GGUF_DEFAULT_ALIGNMENT;
  const s = new ByteSink();
  s.push(Buffer.from("GGUF", "latin1"));
  s.u32(3);
  s.u64(tensors.length);
  s.u64(entries.length);
  for (const [key, e] of entries) {
    s.string(key);
    writeValue(s, e);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const type = ggmlTypeByName(t.type);
    if (type === undefined) throw new Error(`unknown ggml type ${t.type}`);
    s.string(t.name);
    s.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) s.u64(d);
    s.u32(type.id);
    s.u64(offset);
    offsets.push(offset);
    offset = Math.ceil((offset + t.data.length) / alignment) * alignment;
  }
  const header = s.concat();
  const dataOffset = Math.ceil(header.length / alignment) * alignment;
  const out = Buffer.alloc(dataOffset + offset);
  header.copy(out, 0);
  tensors.forEach((t, i) => {
    out.set(t.data, dataOffset + offsets[i]!);
  });
  return out;
}

/** Writes `encodeGguf(metadata, tensors)` to `path`. */
export function writeGguf(
  path: string,
  metadata: Map<string, GgufMetadataEntry> | Record<string, GgufMetadataEntry>,
  tensors: GgufTensorToWrite[],
): void {
  writeFileSync(path, encodeGguf(metadata, tensors));
}
