/**
 * Typed access to GGUF metadata. A key of the wrong type is an error naming the file, the key,
 * the type wanted and the type found; a missing key is an error only for the `require*` forms.
 */
import { GgufError } from "./errors.js";
import type { GgufFile, GgufMetadataEntry } from "./gguf-format.js";

const INTEGER_TYPES = new Set(["uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64"]);
const NUMBER_TYPES = new Set([...INTEGER_TYPES, "float32", "float64"]);

function wrongType(f: GgufFile, key: string, want: string, e: GgufMetadataEntry): never {
  const found = e.type === "array" ? `array of ${e.elementType}` : e.type;
  throw new GgufError("model_invalid", `${f.path}: GGUF metadata "${key}" must be ${want} (found ${found})`);
}

function missing(f: GgufFile, key: string): never {
  throw new GgufError("model_invalid", `${f.path}: GGUF metadata "${key}" is missing`);
}

export function ggufString(f: GgufFile, key: string): string | undefined {
  const e = f.metadata.get(key);
  if (e === undefined) return undefined;
  if (e.type !== "string") wrongType(f, key, "a string", e);
  return e.value as string;
}

export function ggufRequireString(f: GgufFile, key: string): string {
  return ggufString(f, key) ?? missing(f, key);
}

/** An integer of any width, as a number (64-bit values must be safe integers). */
export function ggufInt(f: GgufFile, key: string): number | undefined {
  const e = f.metadata.get(key);
  if (e === undefined) return undefined;
  if (!INTEGER_TYPES.has(e.type)) wrongType(f, key, "an integer", e);
  const v = e.value as number | bigint;
  if (typeof v === "bigint") {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw new GgufError("model_invalid", `${f.path}: GGUF metadata "${key}" = ${v} is out of range`);
    return Number(v);
  }
  return v;
}

export function ggufRequireInt(f: GgufFile, key: string): number {
  return ggufInt(f, key) ?? missing(f, key);
}

/** A float or integer value, as a number. */
export function ggufNumber(f: GgufFile, key: string): number | undefined {
  const e = f.metadata.get(key);
  if (e === undefined) return undefined;
  if (!NUMBER_TYPES.has(e.type)) wrongType(f, key, "a number", e);
  return INTEGER_TYPES.has(e.type) ? ggufInt(f, key) : (e.value as number);
}

export function ggufRequireNumber(f: GgufFile, key: string): number {
  return ggufNumber(f, key) ?? missing(f, key);
}

export function ggufBool(f: GgufFile, key: string): boolean | undefined {
  const e = f.metadata.get(key);
  if (e === undefined) return undefined;
  if (e.type !== "bool") wrongType(f, key, "a bool", e);
  return e.value as boolean;
}

export function ggufStringArray(f: GgufFile, key: string): string[] | undefined {
  const e = f.metadata.get(key);
  if (e === undefined) return undefined;
  if (e.type !== "array" || e.elementType !== "string") wrongType(f, key, "an array of strings", e);
  return e.value as string[];
}

/** A numeric array of any element type, as numbers (64-bit elements must be safe integers). */
export function ggufNumberArray(f: GgufFile, key: string): number[] | undefined {
  const e = f.metadata.get(key);
  if (e === undefined) return undefined;
  if (e.type !== "array" || e.elementType === undefined || !NUMBER_TYPES.has(e.elementType))
    wrongType(f, key, "an array of numbers", e);
  const out: number[] = [];
  for (const v of Array.from(e.value as ArrayLike<number | bigint>)) {
    if (typeof v === "bigint" && (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)))
      throw new GgufError("model_invalid", `${f.path}: GGUF metadata "${key}" holds ${v}, out of range`);
    out.push(Number(v));
  }
  return out;
}
