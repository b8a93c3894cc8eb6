/**
 * A pool of tokenizer threads (worker_threads), so that rendering chat templates and tokenizing
 * (CPU-bound, seconds for a prompt of megabytes) never run on the router's event loop: while one
 * huge prompt is tokenized, every other client, probe and stream is still served.
 *
 * Jobs wait in one FIFO queue and each thread takes the next when it is free (a long prompt holds
 * one thread, not a share of every queue). At most `maxQueued` jobs wait; beyond that a job fails
 * at once with queue_full (429). A thread that dies fails the job it held (internal) and is
 * replaced. Knobs: threads 1..64 (--tokenizer-threads), maxQueued (default 1024).
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { RadixServeError } from "@radixserve/core";
import type { ChatTurn } from "../gateway/text-codec.js";

export type TokenizeJob =
  | { id: number; kind: "prompt"; text: string }
  | { id: number; kind: "chat"; messages: ChatTurn[]; tools?: readonly unknown[] | undefined };

export type TokenizeReply =
  | { id: number; ok: true; ids: Int32Array }
  | { id: number; ok: false; message: string };

type JobInput =
  | { kind: "prompt"; text: string }
  | { kind: "chat"; messages: ChatTurn[]; tools?: readonly unknown[] | undefined };

interface Pending {
  job: TokenizeJob;
  resolve: (ids: number[]) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: Pending | null;
}

export interface TokenizerPoolOptions {
  threads: number;
  /** Jobs that may wait for a thread before queue_full. Default 1024. */
  maxQueued?: number;
}

/** The thread's module beside this one: .ts under tsx (tests), .js when built. */
const THREAD_URL = new URL(`./tokenize-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

/** A new thread running THREAD_URL; from TypeScript sources, tsx is registered in it first. */
function startThread(modelDir: string): Worker {
  const workerData = { modelDir };
  if (!THREAD_URL.pathname.endsWith(".ts")) return new Worker(THREAD_URL, { workerData });
  const tsx = import.meta.resolve("tsx/esm/api");
  const boot =
    `import(${JSON.stringify(tsx)})` +
    `.then((m) => { m.register(); return import(${JSON.stringify(THREAD_URL.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

export class TokenizerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private readonly maxQueued: number;

  private constructor(
    private readonly modelDir: string,
    opts: TokenizerPoolOptions,
  ) {
    if (!(Number.isInteger(opts.threads) && opts.threads >= 1 && opts.threads <= 64))
      throw new Error(`tokenizer threads must be an integer in [1, 64], got ${opts.threads}`);
    this.maxQueued = opts.maxQueued ?? 1024;
  }

  /** Starts the threads and resolves once every one has loaded the tokenizer. */
  static async start(modelDir: string, opts: TokenizerPoolOptions): Promise<TokenizerPool> {
    const pool = new TokenizerPool(modelDir, opts);
    try {
      await Promise.all(Array.from({ length: opts.threads }, () => pool.spawn()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get threads(): number {
    return this.slots.length;
  }

  /** Jobs waiting for a free thread now. */
  get queued(): number {
    return this.queue.length;
  }

  encodePrompt(text: string): Promise<number[]> {
    return this.submit({ kind: "prompt", text });
  }

  encodeChat(messages: ChatTurn[], tools?: readonly unknown[]): Promise<number[]> {
    return this.submit({ kind: "chat", messages, tools });
  }

  async close(): Promise<void> {
    this.closed = true;
    const gone = new Error("the tokenizer pool was closed");
    for (const p of this.queue.splice(0)) p.reject(gone);
    await Promise.all(
      this.slots.splice(0).map((s) => {
        s.busy?.reject(gone);
        return s.worker.terminate();
      }),
    );
  }

  private submit(input: JobInput): Promise<number[]> {
    if (this.closed) return Promise.reject(new Error("the tokenizer pool was closed"));
    if (this.queue.length >= this.maxQueued)
      return Promise.reject(
        new RadixServeError("queue_full", `${this.queue.length} prompts are waiting to be tokenized`),
      );
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { ...input, id: this.nextId++ } as TokenizeJob, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    for (const slot of this.slots) {
      if (slot.busy) continue;
      const next = this.queue.shift();
      if (!next) return;
      slot.busy = next;
      slot.worker.postMessage(next.job);
    }
  }

  private spawn(): Promise<void> {
    return new Promise((resolveReady, rejectReady) => {
      const worker = startThread(this.modelDir);
      const slot: Slot = { worker, busy: null };
      let ready = false;
      worker.on("message", (msg: TokenizeReply | { ready: true }) => {
        if ("ready" in msg) {
          ready = true;
          this.slots.push(slot);
          resolveReady();
          this.drain();
          return;
        }
        const p = slot.busy;
        slot.busy = null;
        if (p && p.job.id === msg.id) {
          if (msg.ok) p.resolve(Array.from(msg.ids));
          else p.reject(new Error(msg.message));
        }
        this.drain();
      });
      worker.on("error", (err) => {
        if (!ready) rejectReady(new Error(`a tokenizer thread failed to start: ${err.message}`));
        slot.busy?.reject(new RadixServeError("internal", `a tokenizer thread failed: ${err.message}`));
        slot.busy = null;
      });
      worker.on("exit", () => {
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
        if (!ready) rejectReady(new Error("a tokenizer thread exited before it was ready"));
        slot.busy?.reject(new RadixServeError("internal", "a tokenizer thread exited"));
        slot.busy = null;
        // Replace a thread that died while the pool is in use.
        if (ready && !this.closed) this.spawn().catch(() => {});
      });
    });
  }
}
