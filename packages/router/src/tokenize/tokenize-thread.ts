/**
 * The body of one tokenizer thread (worker_threads): loads the model's tokenizer once, then
 * answers {@link TokenizeJob}s one at a time with the ids (an Int32Array, transferred, not
 * copied) or the error's message. Runs nothing else.
 */
import { parentPort, workerData } from "node:worker_threads";
import { PromptEncoder } from "./prompt-encoder.js";
import type { TokenizeJob, TokenizeReply } from "./tokenizer-pool.js";

const port = parentPort;
if (!port) throw new Error("tokenize-thread.ts runs only as a worker thread");
const { modelDir } = workerData as { modelDir: string };

const encoder = await PromptEncoder.load(modelDir);
port.on("message", (job: TokenizeJob) => {
  let reply: TokenizeReply;
  try {
    const ids =
      job.kind === "chat" ? encoder.encodeChat(job.messages, job.tools) : encoder.encodePrompt(job.text);
    reply = { id: job.id, ok: true, ids: Int32Array.from(ids) };
  } catch (err) {
    reply = { id: job.id, ok: false, message: err instanceof Error ? err.message : String(err) };
  }
  if (reply.ok) port.postMessage(reply, [reply.ids.buffer as ArrayBuffer]);
  else port.postMessage(reply);
});
port.postMessage({ ready: true });
