/**
 * Chat templates written into the generated models' tokenizer_config.json. Both are Jinja as
 * Hugging Face renders it (and @huggingface/jinja, which the tokenizer package uses).
 */

/**
 * Llama-2 chat format: `<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST] {assistant} </s>`.
 * The assistant turn always follows `[/INST]`, so add_generation_prompt adds nothing. Roles must
 * alternate user/assistant after an optional system message, as in Meta's template.
 */
export const LLAMA2_CHAT_TEMPLATE = [
  "{%- if messages and messages[0]['role'] == 'system' -%}",
  "{%- set system_message = messages[0]['content'] -%}",
  "{%- set loop_messages = messages[1:] -%}",
  "{%- else -%}",
  "{%- set system_message = '' -%}",
  "{%- set loop_messages = messages -%}",
  "{%- endif -%}",
  "{%- for message in loop_messages -%}",
  "{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}",
  "{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}",
  "{%- endif -%}",
  "{%- if message['role'] == 'user' -%}",
  "{%- if loop.first and system_message -%}",
  "{{- bos_token + '[INST] <<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] | trim + ' [/INST]' -}}",
  "{%- else -%}",
  "{{- bos_token + '[INST] ' + message['content'] | trim + ' [/INST]' -}}",
  "{%- endif -%}",
  "{%- else -%}",
  "{{- ' ' + message['content'] | trim + ' ' + eos_token -}}",
  "{%- endif -%}",
  "{%- endfor -%}",
].join("");

/** ChatML (Qwen2 style), with Qwen's default system prompt when none is given. */
export const CHATML_CHAT_TEMPLATE = [
  "{%- for message in messages -%}",
  "{%- if loop.first and message['role'] != 'system' -%}",
  "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' -}}",
  "{%- endif -%}",
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' -}}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}",
  "{{- '<|im_start|>assistant\\n' -}}",
  "{%- endif -%}",
].join("");
