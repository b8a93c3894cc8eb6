// Tokenizer, chat templates, generation defaults and streaming text helpers.
export {
  type ChatMessage,
  type ChatRole,
  ChatTemplate,
  type ChatTextPart,
  type ChatToolCall,
  type RenderOptions,
} from "./chat-template.js";
export { type GenerationDefaults, loadGenerationConfig } from "./generation-config.js";
export { ggufTokenizerFiles, loadGgufTokenizer } from "./gguf-tokenizer.js";
export { IncrementalDetokenizer, type IncrementalDetokenizerOptions } from "./incremental-detokenizer.js";
export { type StopMatch, StopStringMatcher } from "./stop-string-matcher.js";
export { tokenBytes, tokenString } from "./token-bytes.js";
export { type DecodeOptions, type EncodeOptions, loadTokenizer, ModelTokenizer } from "./tokenizer.js";
