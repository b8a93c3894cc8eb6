// GGUF for the engine: @radixserve/gguf's reader and metadata getters, throwing this package's
// EngineError (same code and message) so a bad GGUF fails a load like a bad safetensors file.
import * as gguf from "@radixserve/gguf";
import { EngineError } from "../errors.js";

function engineErrors<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      if (e instanceof gguf.GgufError) throw new EngineError(e.code, e.message, { cause: e });
      throw e;
    }
  };
}

export {
  encodeGguf,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_VALUE_TYPES,
  type GgmlTypeInfo,
  type GgufFile,
  type GgufMetadataEntry,
  type GgufTensorInfo,
  type GgufTensorToWrite,
  type GgufValue,
  type GgufValueType,
  ggmlRowBytes,
  ggmlTypeById,
  ggmlTypeByName,
  writeGguf,
} from "@radixserve/gguf";

export const readGguf = engineErrors(gguf.readGguf);
export const findGgufFile = engineErrors(gguf.findGgufFile);
export const ggufBool = engineErrors(gguf.ggufBool);
export const ggufInt = engineErrors(gguf.ggufInt);
export const ggufNumber = engineErrors(gguf.ggufNumber);
export const ggufNumberArray = engineErrors(gguf.ggufNumberArray);
export const ggufRequireInt = engineErrors(gguf.ggufRequireInt);
export const ggufRequireNumber = engineErrors(gguf.ggufRequireNumber);
export const ggufRequireString = engineErrors(gguf.ggufRequireString);
export const ggufString = engineErrors(gguf.ggufString);
export const ggufStringArray = engineErrors(gguf.ggufStringArray);
