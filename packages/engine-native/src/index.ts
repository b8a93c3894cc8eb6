// Public surface of @radixserve/engine-native.
export type * from "./types.js";
export { loadEngine } from "./engine.js";
export { ENGINE_ERRORS, EngineError, type EngineErrorCode } from "./errors.js";
export { readModelConfig, SUPPORTED_ARCHITECTURES, type ModelConfig, type RopeScaling } from "./model-config.js";
export { readModelTensors, readSafetensorsHeader, type TensorDtype, type TensorInfo } from "./safetensors.js";
