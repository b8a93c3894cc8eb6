// Public surface of @radixserve/engine-native.

export { readBandwidthGbs } from "./bandwidth.js";
export { loadEngine } from "./engine.js";
export { ENGINE_ERRORS, EngineError, type EngineErrorCode } from "./errors.js";
export * from "./gguf/index.js";
export { type GgufModel, readGgufModel } from "./gguf-model.js";
export { type KvSink, type KvSource, kvSink, kvSource } from "./kv-io.js";
export { type KvLayoutInfo, kvBlockBytes, kvSlabOffset, relayoutKvBlocks } from "./kv-layout.js";
export {
  crc32c,
  crc32cCopyStreaming,
  crc32cImpl,
  crc32cTable,
  KV_FENCE_SLOT_BYTES,
  KvRegion,
  KvTcpConnection,
  KvTcpListener,
  type KvTcpProgress,
  tcpRawLoopbackSeconds,
} from "./kv-transfer.js";
export {
  type ModelConfig,
  type RopeScaling,
  readModelConfig,
  SUPPORTED_ARCHITECTURES,
} from "./model-config.js";
export {
  QUANT_DTYPES,
  type QuantDtype,
  readModelTensors,
  readSafetensorsHeader,
  type TensorDtype,
  type TensorInfo,
} from "./safetensors.js";
export type * from "./types.js";
