// Public surface of @radixserve/gguf: the GGUF reader (header, metadata, tensor infos), typed
// metadata access, ggml type geometry, which file a model path names, and a small writer for tests
// and tools. Pure TypeScript: the router (tokenizer) and the engine (weights) both read GGUFs.
export { GgufError, type GgufErrorCode } from "./errors.js";
export { type GgmlTypeInfo, ggmlRowBytes, ggmlTypeById, ggmlTypeByName } from "./ggml-types.js";
export {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_VALUE_TYPES,
  type GgufFile,
  type GgufMetadataEntry,
  type GgufTensorInfo,
  type GgufValue,
  type GgufValueType,
} from "./gguf-format.js";
export {
  ggufBool,
  ggufInt,
  ggufNumber,
  ggufNumberArray,
  ggufRequireInt,
  ggufRequireNumber,
  ggufRequireString,
  ggufString,
  ggufStringArray,
} from "./gguf-metadata.js";
export { findGgufFile } from "./gguf-path.js";
export { readGguf } from "./gguf-reader.js";
export { encodeGguf, type GgufTensorToWrite, writeGguf } from "./gguf-writer.js";
