/**
 * The GGUF container as llama.cpp writes it (versions 2 and 3, little-endian):
 *
 *   "GGUF" | u32 version | u64 tensor_count | u64 kv_count
 *   kv_count x  { string key | u32 value_type | value }
 *   tensor_count x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
 *   padding to `general.alignment` (default 32) | tensor data
 *
 * A string is a u64 byte length and UTF-8 bytes; an array value is a u32 element type, a u64
 * count and the elements. A tensor's `ne` lists its dimensions innermost first (ggml order: ne[0]
 * is the row length); its offset is relative to the start of the data and a multiple of the
 * alignment.
 */

/** Value types of metadata, by their number in the file. */
export const GGUF_VALUE_TYPES = [
  "uint8",
  "int8",
  "uint16",
  "int16",
  "uint32",
  "int32",
  "float32",
  "bool",
  "string",
  "array",
  "uint64",
  "int64",
  "float64",
] as const;

export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];

/** Bytes of one value of each fixed-size type (string and array are variable). */
export const GGUF_SCALAR_BYTES: Partial<Record<GgufValueType, number>> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  bool: 1,
  uint64: 8,
  int64: 8,
  float64: 8,
};

/**
 * A metadata value as read: 8/16/32-bit integers and floats as `number`, 64-bit integers as
 * `bigint`, numeric arrays as the matching typed array, string and bool arrays as plain arrays,
 * arrays of arrays as arrays of values.
 */
export type GgufValue =
  | number
  | bigint
  | boolean
  | string
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | BigUint64Array
  | BigInt64Array
  | Float64Array
  | boolean[]
  | string[]
  | GgufValue[];

export interface GgufMetadataEntry {
  type: GgufValueType;
  /** The element type when `type` is "array". */
  elementType?: GgufValueType;
  value: GgufValue;
}

export interface GgufTensorInfo {
  name: string;
  /** Dimensions innermost first, as in the file (ne[0] = row length). */
  ne: number[];
  /** Dimensions outermost first (PyTorch order): a weight [out, in] has ne = [in, out]. */
  shape: number[];
  /** ggml type number (see ggml-types.ts). */
  ggmlType: number;
  /** ggml type name ("Q4_K", "F32", ...). */
  typeName: string;
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  /** Bytes of the tensor's data. */
  nbytes: number;
  /** Number of values. */
  elements: number;
}

export interface GgufFile {
  path: string;
  /** 2 or 3. */
  version: number;
  /** File size in bytes. */
  size: number;
  metadata: Map<string, GgufMetadataEntry>;
  /** In file order. */
  tensors: GgufTensorInfo[];
  /** `general.alignment`, or 32 when absent. */
  alignment: number;
  /** Absolute offset where tensor data starts (tensor offsets are relative to it). */
  dataOffset: number;
}

export const GGUF_MAGIC = "GGUF";
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml tensors have at most four dimensions. */
export const GGUF_MAX_DIMS = 4;
