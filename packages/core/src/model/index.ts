// Default-model maker: presets, deterministic weights, safetensors writer, HF directory files.
export { CHATML_CHAT_TEMPLATE, LLAMA2_CHAT_TEMPLATE } from "./chat-templates.js";
export {
  DEFAULT_MODEL,
  defaultModelFile,
  fetchDefaultModel,
  type ResolvedDefaultModel,
  resolveDefaultModel,
  sha256File,
} from "./default-model.js";
export { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "./float-convert.js";
export { downloadHubModel, type HubDownloadOptions, isHubModelId } from "./hub-download.js";
export {
  DEFAULT_MODEL_DTYPE,
  DEFAULT_MODEL_PRESET,
  DEFAULT_MODEL_SEED,
  type EnsureModelOptions,
  ensureDefaultModel,
  type MakeModelOptions,
  MODEL_MAKER_VERSION,
  makeModel,
  makeModelCli,
  modelCacheRoot,
  writeModelJsonFiles,
} from "./make-model.js";
export { type ModelSourceOptions, type ResolvedModel, resolveModelPath } from "./model-source.js";
export {
  getModelPreset,
  isModelPresetName,
  type Llama3RopeScaling,
  MODEL_PRESETS,
  type ModelDtype,
  type ModelPreset,
  type ModelPresetName,
  presetParamCount,
} from "./presets.js";
export {
  buildSafetensorsHeader,
  type SafetensorsDtype,
  type TensorEntry,
  tensorByteLength,
  writeSafetensors,
} from "./safetensors-writer.js";
