/**
 * Reads and validates a GGUF file's header: metadata, tensor infos, alignment and where the data
 * starts. The tensor data itself is not read (the engine maps it). Every problem throws one
 * GgufError naming the file and the problem: truncated, bad magic, unsupported version, a
 * metadata value or tensor info that is malformed, a tensor type that is unknown, a tensor whose
 * data lies outside the file or off the alignment.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { GgufError } from "./errors.js";
import { ggmlTypeById } from "./ggml-types.js";
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GGUF_SCALAR_BYTES,
  GGUF_VALUE_TYPES,
  type GgufFile,
  type GgufMetadataEntry,
  type GgufTensorInfo,
  type GgufValue,
  type GgufValueType,
} from "./gguf-format.js";

const SUPPORTED_VERSIONS = [2, 3];
/** The header is read in windows of this size (the SmolLM2 file's header is ~1.5 MB). */
const WINDOW = 1 << 20;
/** Nesting of arrays in arrays beyond this is treated as corrupt. */
const MAX_ARRAY_DEPTH = 4;

function invalid(path: string, problem: string): never {
  throw new GgufError("model_invalid", `${path}: invalid GGUF file: ${problem}`);
}

/** Sequential little-endian reads over a file descriptor, through a window buffer. */
class Cursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  /** What is being read, for the truncation message. */
  what = "the header";

  constructor(
    private readonly fd: number,
    readonly path: string,
    readonly size: number,
  ) {}

  private need(n: number): number {
    if (this.pos + n > this.size)
      invalid(
        this.path,
        `truncated: ${this.what} needs ${n} bytes at offset ${this.pos}, but the file has ${this.size} bytes`,
      );
    if (this.pos < this.bufStart || this.pos + n > this.bufStart + this.buf.length) {
      const len = Math.min(Math.max(n, WINDOW), this.size - this.pos);
      this.buf = Buffer.alloc(len);
      let got = 0;
      while (got < len) {
        const r = readSync(this.fd, this.buf, got, len - got, this.pos + got);
        if (r === 0) invalid(this.path, `truncated: read ended at offset ${this.pos + got}`);
        got += r;
      }
      this.bufStart = this.pos;
    }
    const at = this.pos - this.bufStart;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.buf.readUInt8(this.need(1));
  }
  u32(): number {
    return this.buf.readUInt32LE(this.need(4));
  }
  u64(): bigint {
    return this.buf.readBigUInt64LE(this.need(8));
  }
  /** A u64 that must fit a JS number (counts, lengths, offsets). */
  count(what: string): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) invalid(this.path, `${what} ${v} is out of range`);
    return Number(v);
  }
  bytes(n: number): Buffer {
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }
  string(what: string): string {
    const len = this.count(`${what}: string length`);
    if (len > this.size - this.pos)
      invalid(
        this.path,
        `truncated: ${what} has a string of ${len} bytes at offset ${this.pos}, past the end`,
      );
    return this.bytes(len).toString("utf8");
  }
}

function valueType(c: Cursor, what: string): GgufValueType {
  const id = c.u32();
  const t = GGUF_VALUE_TYPES[id];
  if (t === undefined) invalid(c.path, `${what} has unknown value type ${id}`);
  return t;
}

function scalar(c: Cursor, t: GgufValueType, what: string): number | bigint | boolean | string {
  switch (t) {
    case "uint8":
      return c.u8();
    case "int8":
      return (c.u8() << 24) >> 24;
    case "uint16": {
      const b = c.bytes(2);
      return b.readUInt16LE(0);
    }
    case "int16":
      return c.bytes(2).readInt16LE(0);
    case "uint32":
      return c.u32();
    case "int32":
      return c.bytes(4).readInt32LE(0);
    case "float32":
      return c.bytes(4).readFloatLE(0);
    case "bool": {
      const v = c.u8();
      if (v > 1) invalid(c.path, `${what} is a bool holding ${v}`);
      return v === 1;
    }
    case "string":
      return c.string(what);
    case "uint64":
      return c.u64();
    case "int64":
      return c.bytes(8).readBigInt64LE(0);
    case "float64":
      return c.bytes(8).readDoubleLE(0);
    case "array":
      throw new Error("unreachable: arrays are read by array()");
  }
}

/** Copies `n` little-endian elements into a fresh typed array (the window is not aligned). */
function typedArray(c: Cursor, t: GgufValueType, n: number): GgufValue {
  const size = GGUF_SCALAR_BYTES[t]!;
  const src = c.bytes(n * size);
  const copy = new Uint8Array(n * size);
  copy.set(src);
  const b = copy.buffer;
  switch (t) {
    case "uint8":
      return copy;
    case "int8":
      return new Int8Array(b);
    case "uint16":
      return new Uint16Array(b);
    case "int16":
      return new Int16Array(b);
    case "uint32":
      return new Uint32Array(b);
    case "int32":
      return new Int32Array(b);
    case "float32":
      return new Float32Array(b);
    case "uint64":
      return new BigUint64Array(b);
    case "int64":
      return new BigInt64Array(b);
    case "float64":
      return new Float64Array(b);
    default:
      throw new Error(`unreachable: ${t} is not a numeric type`);
  }
}

function array(c: Cursor, what: string, depth: number): { elementType: GgufValueType; value: GgufValue } {
  if (depth > MAX_ARRAY_DEPTH) invalid(c.path, `${what} nests arrays deeper than ${MAX_ARRAY_DEPTH}`);
  const elementType = valueType(c, what);
  const n = c.count(`${what}: array length`);
  const minBytes = GGUF_SCALAR_BYTES[elementType] ?? (elementType === "string" ? 8 : 12);
  if (n * minBytes > c.size - c.pos)
    invalid(
      c.path,
      `truncated: ${what} claims ${n} ${elementType} elements, more than the rest of the file holds`,
    );
  if (elementType === "string") {
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = c.string(what);
    return { elementType, value: out };
  }
  if (elementType === "bool") {
    const out: boolean[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = scalar(c, "bool", what) as boolean;
    return { elementType, value: out };
  }
  if (elementType === "array") {
    const out: GgufValue[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = array(c, what, depth + 1).value;
    return { elementType, value: out };
  }
  return { elementType, value: typedArray(c, elementType, n) };
}

function readMetadata(c: Cursor, kvCount: number): Map<string, GgufMetadataEntry> {
  const metadata = new Map<string, GgufMetadataEntry>();
  for (let i = 0; i < kvCount; i++) {
    c.what = `metadata key ${i}`;
    const key = c.string(c.what);
    c.what = `metadata value of "${key}"`;
    if (metadata.has(key)) invalid(c.path, `metadata key "${key}" appears twice`);
    const type = valueType(c, c.what);
    if (type === "array") {
      const { elementType, value } = array(c, c.what, 1);
      metadata.set(key, { type, elementType, value });
    } else {
      metadata.set(key, { type, value: scalar(c, type, c.what) });
    }
  }
  return metadata;
}

function alignmentOf(path: string, metadata: Map<string, GgufMetadataEntry>): number {
  const e = metadata.get("general.alignment");
  if (e === undefined) return GGUF_DEFAULT_ALIGNMENT;
  const v = e.value;
  if (e.type !== "uint32" || typeof v !== "number" || v === 0 || (v & (v - 1)) !== 0)
    invalid(path, `general.alignment must be a uint32 power of two (got ${e.type} ${String(v)})`);
  return v;
}

interface RawTensor {
  name: string;
  ne: number[];
  ggmlType: number;
  relOffset: number;
}

function readTensorInfos(c: Cursor, tensorCount: number): RawTensor[] {
  const out: RawTensor[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    c.what = `tensor info ${i}`;
    const name = c.string(c.what);
    c.what = `tensor info of "${name}"`;
    if (names.has(name)) invalid(c.path, `tensor "${name}" appears twice`);
    names.add(name);
    const nDims = c.u32();
    if (nDims < 1 || nDims > GGUF_MAX_DIMS)
      invalid(c.path, `tensor "${name}" has ${nDims} dimensions (1 to ${GGUF_MAX_DIMS} allowed)`);
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(c.count(`tensor "${name}" dimension ${d}`));
    const ggmlType = c.u32();
    const relOffset = c.count(`tensor "${name}" offset`);
    out.push({ name, ne, ggmlType, relOffset });
  }
  return out;
}

function placeTensor(
  path: string,
  t: RawTensor,
  dataOffset: number,
  size: number,
  alignment: number,
): GgufTensorInfo {
  const type = ggmlTypeById(t.ggmlType);
  if (type === undefined)
    throw new GgufError(
      "model_unsupported",
      `${path}: invalid GGUF file: tensor "${t.name}" has unknown ggml type ${t.ggmlType}`,
    );
  const elements = t.ne.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(elements))
    invalid(path, `tensor "${t.name}" has too many elements [${t.ne.join(", ")}]`);
  const row = t.ne[0]!;
  if (row % type.blockSize !== 0)
    invalid(
      path,
      `tensor "${t.name}" row length ${row} is not a multiple of the ${type.name} block (${type.blockSize})`,
    );
  const nbytes = (elements / type.blockSize) * type.typeSize;
  if (t.relOffset % alignment !== 0)
    invalid(path, `tensor "${t.name}" offset ${t.relOffset} is not a multiple of the alignment ${alignment}`);
  const offset = dataOffset + t.relOffset;
  if (offset + nbytes > size)
    invalid(
      path,
      `tensor "${t.name}" (${type.name}, ${nbytes} bytes at offset ${offset}) ends past the end of the file (${size} bytes)`,
    );
  return {
    name: t.name,
    ne: t.ne,
    shape: [...t.ne].reverse(),
    ggmlType: t.ggmlType,
    typeName: type.name,
    offset,
    nbytes,
    elements,
  };
}

/** Tensors must not share bytes. */
function checkOverlaps(path: string, tensors: GgufTensorInfo[]): void {
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (prev.offset + prev.nbytes > cur.offset)
      invalid(path, `tensors "${prev.name}" and "${cur.name}" overlap (at offset ${cur.offset})`);
  }
}

/** Reads the header of the GGUF file at `path`. Throws an GgufError naming the file and the problem. */
export function readGguf(path: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw new GgufError("model_invalid", `${path}: cannot open the GGUF file (${(e as Error).message})`, {
      cause: e,
    });
  }
  try {
    const size = fstatSync(fd).size;
    const c = new Cursor(fd, path, size);
    c.what = "the magic";
    const magic = c.bytes(4).toString("latin1");
    if (magic !== GGUF_MAGIC) invalid(path, `bad magic ${JSON.stringify(magic)} (expected "GGUF")`);
    c.what = "the version";
    const version = c.u32();
    if (!SUPPORTED_VERSIONS.includes(version)) {
      const swapped = Buffer.alloc(4);
      swapped.writeUInt32BE(version);
      const hint = SUPPORTED_VERSIONS.includes(swapped.readUInt32LE(0)) ? " (a big-endian file)" : "";
      throw new GgufError(
        "model_unsupported",
        `${path}: unsupported GGUF version ${version}${hint}; supported: ${SUPPORTED_VERSIONS.join(", ")}`,
      );
    }
    c.what = "the tensor and metadata counts";
    const tensorCount = c.count("tensor count");
    const kvCount = c.count("metadata count");
    const metadata = readMetadata(c, kvCount);
    const alignment = alignmentOf(path, metadata);
    const raw = readTensorInfos(c, tensorCount);
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    if (raw.length > 0 && dataOffset > size)
      invalid(
        path,
        `truncated: tensor data would start at offset ${dataOffset}, past the end of the file (${size} bytes)`,
      );
    const tensors = raw.map((t) => placeTensor(path, t, dataOffset, size, alignment));
    checkOverlaps(path, tensors);
    return { path, version, size, metadata, tensors, alignment, dataOffset };
  } finally {
    closeSync(fd);
  }
}
