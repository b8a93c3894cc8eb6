/**
 * One Prefill stream on the prefill worker (the P side of the protocol in worker.proto): runs the
 * request through the PrefillScheduler and sends its KV blocks to the decode worker as each
 * prefill chunk completes (transfer overlaps compute: chunk k's blocks travel while chunk k+1
 * runs), with at most `window` unacked chunks, then the first token.
 *
 * Every way the stream can end releases the job exactly once: done_ack (success or D's failure),
 * D cancelling or dying (stream cancelled / error / half-close), the engine failing, or the
 * session deadline (D stalled: no done_ack in time). After the last chunk's export the job's
 * blocks are released at once: exportBlocks copied the bytes, so P's pool does not wait on D.
 */
import type * as grpc from "@grpc/grpc-js";
import {
  getLogger,
  getTracer,
  type PrefillClientMessage__Output,
  type PrefillServerMessage,
  type PrefillStart__Output,
  RadixServeError,
  type Span,
  traceParentOf,
} from "@radixserve/core";
import { type Engine, kvSink } from "@radixserve/engine-native";
import {
  foldChunkCrc,
  type KvSender,
  type KvSentChunk,
  type KvTransferMetrics,
  senderForOffer,
} from "@radixserve/kv-transfer";
import { toProtoLogprob, toProtoPromptLogprobs } from "../../logprob.js";
import { toRequestParams } from "../../request-convert.js";
import { PrefillJob } from "./prefill-job.js";
import type { PrefillScheduler } from "./prefill-scheduler.js";

const log = getLogger("prefill");

const DEFAULT_WINDOW = 4;
const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
const MAX_WINDOW = 256;
/** Half the largest gRPC message a decode worker accepts (MAX_KV_MESSAGE_BYTES). */
const MAX_CHUNK_BYTES = 32 * 1024 * 1024;

export interface PrefillSessionContext {
  scheduler: PrefillScheduler;
  /** Block exports into any sink (kv-io), CRC-32C computed in the copy. */
  engine: Pick<Engine, "exportBlocks" | "info">;
  metrics: KvTransferMetrics;
  blockHashSeed: string;
  /** Longest a session may live (start to done_ack); past it P gives up and frees. */
  sessionTimeoutMs: number;
  /** Sessions in progress (for the transfers-in-flight gauge). */
  live: Set<object>;
  /** Hold every block until the whole prompt is computed (the no-overlap baseline, for benchmarks). */
  sendWhenDone?: boolean;
  /** The cluster's data-plane key: tcp senders run the handshake with it. */
  kvAuthKey?: Uint8Array;
}

type Call = grpc.ServerDuplexStream<PrefillClientMessage__Output, PrefillServerMessage>;

export function handlePrefillStream(ctx: PrefillSessionContext, call: Call): void {
  new PrefillSession(ctx, call);
}

class PrefillSession {
  private job: PrefillJob | null = null;
  private sender: KvSender | null = null;
  private start: PrefillStart__Output | null = null;
  private window = DEFAULT_WINDOW;
  private chunkBlocks = 1;
  private nextBlock = 0;
  private numBlocks = 0;
  private unacked = 0;
  private seq = 0;
  private bytesSent = 0;
  private blocksSent = 0;
  private crc = 0;
  private pumping = false;
  /** Chunks placed by a pipelined sender, announced in order as they settle. */
  private announcing: Promise<void> = Promise.resolve();
  private doneSent = false;
  private ended = false;
  private firstChunkAt = 0;
  private readonly timer: NodeJS.Timeout;
  /** The session's span (parent: the decode worker's kv_transfer span) and its phases. */
  private readonly span: Span;
  private phase: Span | null = null;
  private sendSpan: Span | null = null;

  constructor(
    private readonly ctx: PrefillSessionContext,
    private readonly call: Call,
  ) {
    ctx.live.add(this);
    const tracer = getTracer();
    this.span = tracer.startSpan("prefill.session", {
      parent: tracer.enabled ? traceParentOf(call.metadata) : null,
      kind: "server",
    });
    this.timer = setTimeout(
      () => this.fail("transfer_timeout", "prefill session passed its deadline"),
      ctx.sessionTimeoutMs,
    );
    call.on("data", (m: PrefillClientMessage__Output) => this.onMessage(m));
    call.on("end", () => this.abort("D half-closed the stream before done_ack"));
    call.on("cancelled", () => this.abort("D cancelled the stream"));
    call.on("error", (err) => this.abort(`stream error: ${err.message}`));
  }

  private onMessage(m: PrefillClientMessage__Output): void {
    if (this.ended) return;
    if (m.msg === "start" && m.start) void this.onStart(m.start);
    else if (m.msg === "chunkAck" && m.chunkAck) {
      this.unacked = Math.max(0, this.unacked - 1);
      void this.pump();
    } else if (m.msg === "doneAck" && m.doneAck) {
      if (m.doneAck.ok) {
        const secs = this.firstChunkAt > 0 ? (performance.now() - this.firstChunkAt) / 1000 : 0;
        this.ctx.metrics.recordTransfer(this.sender?.name ?? "grpc", this.bytesSent, this.blocksSent, secs);
      } else {
        this.span.setError(`peer_error: ${m.doneAck.error}`);
        this.ctx.metrics.failures.inc({ cause: "peer_error" });
        log.warn({ requestId: this.job?.id, error: m.doneAck.error }, "decode worker rejected the transfer");
      }
      this.close();
      this.call.end();
    } else this.fail("protocol", `unexpected message '${m.msg ?? "none"}'`);
  }

  private async onStart(start: PrefillStart__Output): Promise<void> {
    if (this.start) return this.fail("protocol", "second start message");
    this.start = start;
    const req = start.request;
    if (!req) return this.fail("protocol", "start without a request", "invalid_request");
    if (start.blockHashSeed !== this.ctx.blockHashSeed)
      return this.fail(
        "protocol",
        `model mismatch: decode worker's block hash seed ${start.blockHashSeed}, this worker's ${this.ctx.blockHashSeed}`,
        "invalid_request",
      );
    const params = toRequestParams(req);
    if (params instanceof RadixServeError) return this.failWith(params, "protocol");
    const info = this.ctx.engine.info;
    this.numBlocks = Math.ceil(params.inputIds.length / info.blockSize);
    if (start.numBlocks !== this.numBlocks || start.skipBlocks < 0 || start.skipBlocks > this.numBlocks)
      return this.fail(
        "protocol",
        `start announces ${start.numBlocks} blocks (skip ${start.skipBlocks}); the prompt needs ${this.numBlocks}`,
        "invalid_request",
      );
    // The peer's knobs, clamped: a window or chunk size from the wire must not exhaust P's memory.
    this.window = start.windowChunks > 0 ? Math.min(start.windowChunks, MAX_WINDOW) : DEFAULT_WINDOW;
    this.nextBlock = start.skipBlocks;
    try {
      this.sender = await senderForOffer(
        start.offer,
        this.ctx.engine,
        this.ctx.kvAuthKey ? { authKey: this.ctx.kvAuthKey } : {},
      );
    } catch (err) {
      return this.fail("protocol", `cannot open the KV sender: ${(err as Error).message}`);
    }
    if (this.ended) {
      this.sender.close(); // D went away while the sender opened
      return;
    }
    // Chunks whose bytes ride the stream stay under its message limit; a sender whose bytes never
    // do (tcp, direct shm) says how large it takes them.
    const cap = this.sender.maxChunkBytes ?? MAX_CHUNK_BYTES;
    const chunkBytes = start.chunkBytes > 0 ? Math.min(start.chunkBytes, cap) : DEFAULT_CHUNK_BYTES;
    this.chunkBlocks = Math.max(1, Math.floor(chunkBytes / info.bytesPerBlock));
    const job = new PrefillJob(params);
    const tracer = getTracer();
    this.span
      .setAttribute("radixserve.request_id", params.id)
      .setAttribute("radixserve.prompt_tokens", params.inputIds.length);
    // queue (waiting for blocks and a step) -> prefill (chunks computed) -> first token.
    this.phase = tracer.startSpan("queue", { parent: this.span });
    job.onAdmitted = () => {
      this.phase?.end();
      this.phase = tracer.startSpan("prefill", {
        parent: this.span,
        attributes: { "radixserve.cached_tokens": job.cachedTokens },
      });
    };
    job.onProgress = () => {
      if (job.first) this.phase?.end();
      void this.pump();
    };
    job.onFailure = (err) =>
      err instanceof RadixServeError
        ? this.failWith(err, "engine")
        : this.fail("engine", err.message, "internal");
    const r = this.ctx.scheduler.submit(job);
    if (!r.ok) return this.failWith(r.error, "protocol");
    this.job = job;
  }

  /** Sends whatever is computed and fits the window; then `done` once everything went. Serialised. */
  private async pump(): Promise<void> {
    if (this.pumping || this.ended || !this.job || !this.sender) return;
    this.pumping = true;
    try {
      const job = this.job;
      const bpb = this.ctx.engine.info.bytesPerBlock;
      for (;;) {
        if (this.ended) return;
        const ready = this.readyBlocks(job);
        if (this.nextBlock >= ready || this.unacked >= this.window) break;
        const n = Math.min(ready - this.nextBlock, this.chunkBlocks);
        const first = this.nextBlock;
        const ids = Int32Array.from(job.blocks.slice(first, first + n));
        this.nextBlock += n;
        this.unacked++;
        const placed = this.place(ids, (first - (this.start?.skipBlocks ?? 0)) * bpb);
        if (this.sender.pipelined) {
          // The next chunk starts while this one is on its way; the messages keep chunk order.
          placed.catch(() => undefined); // a failure surfaces through `announcing`
          this.announcing = this.announcing.then(async () => this.announce(first, n, await placed));
          this.announcing.catch((err: Error) =>
            this.fail("engine", `exporting KV blocks failed: ${err.message}`, "internal"),
          );
          continue;
        }
        this.announce(first, n, await placed);
      }
      if (job.first && this.nextBlock >= this.numBlocks && !this.doneSent) {
        await this.announcing; // every chunk placed and announced before done
        if (this.ended) return;
        this.doneSent = true;
        const f = job.first;
        const wantLogprobs = job.params.sampling.logprobs !== undefined && job.params.sampling.logprobs >= 0;
        this.call.write({
          done: {
            firstToken: {
              tokenId: f.token,
              logprob: wantLogprobs ? toProtoLogprob({ logprob: f.logprob, top: f.topLogprobs ?? [] }) : null,
            },
            cachedTokens: job.cachedTokens,
            blocksSent: this.blocksSent,
            bytesSent: this.bytesSent,
            crc32: this.crc,
            transport: this.sender.name,
            promptLogprobs: job.promptLogprobs ? toProtoPromptLogprobs(job.promptLogprobs.result()) : null,
          },
        });
        // Every byte is copied out: P's blocks are free to go (full ones stay in the prefix cache).
        this.ctx.scheduler.release(job);
      }
    } catch (err) {
      this.fail("engine", `exporting KV blocks failed: ${(err as Error).message}`, "internal");
    } finally {
      this.pumping = false;
    }
    // An ack may have arrived while we awaited: go round again.
    if (!this.ended && this.job && !this.doneSent) {
      const job = this.job;
      const ready = this.readyBlocks(job);
      if (this.nextBlock < ready && this.unacked < this.window) void this.pump();
      else if (job.first && this.nextBlock >= this.numBlocks) void this.pump();
    }
  }

  /** Sends the KvChunk message of a placed chunk. */
  private announce(first: number, n: number, { payload, crc }: KvSentChunk): void {
    if (this.ended) return;
    if (this.firstChunkAt === 0) {
      this.firstChunkAt = performance.now();
      this.sendSpan = getTracer().startSpan("kv_send", {
        parent: this.span,
        attributes: { "radixserve.transport": this.sender?.name ?? "grpc" },
      });
    }
    this.crc = foldChunkCrc(this.crc, crc);
    this.bytesSent += payload.byteLength;
    this.blocksSent += n;
    this.call.write({
      chunk: {
        seq: this.seq++,
        firstBlock: first,
        numBlocks: n,
        data: payload.data,
        offset: payload.offset,
        byteLength: payload.byteLength,
        crc32: crc,
        transport: payload.data.byteLength > 0 ? "grpc" : (this.sender?.name ?? "grpc"),
      },
    });
  }

  /**
   * Puts one chunk's blocks where the transport sends them and returns the payload and its CRC-32C.
   * Native transports (shm, tcp) export straight from the pool into their medium (direct shm: into
   * D's pool itself); otherwise the engine exports into a buffer for inline bytes, computing the
   * CRC in the same pass.
   */
  private async place(ids: Int32Array, byteOffset: number): Promise<KvSentChunk> {
    const engine = this.ctx.engine;
    const sender = this.sender!;
    if (sender.sendBlocks) return sender.sendBlocks(engine, ids, byteOffset);
    const data = Buffer.allocUnsafe(ids.length * engine.info.bytesPerBlock);
    const crc = await engine.exportBlocks(ids, kvSink.memory(data, 0));
    if (this.ended) throw new Error("session ended");
    return { payload: await sender.write(data, byteOffset), crc };
  }

  /** Blocks whose KV is final: every full computed block, and the partial last one once the prompt is done. */
  private readyBlocks(job: PrefillJob): number {
    if (job.first) return this.numBlocks;
    if (this.ctx.sendWhenDone) return 0;
    return Math.floor(job.numComputed / this.ctx.engine.info.blockSize);
  }

  private failWith(err: RadixServeError, cause: string): void {
    if (this.ended) return;
    this.span.setError(`${cause}: ${err.message}`);
    this.ctx.metrics.failures.inc({ cause });
    log.debug({ requestId: this.job?.id, code: err.code, msg: err.message }, "prefill session failed");
    try {
      this.call.write({ error: err.toWorkerError() });
      this.call.end();
    } catch {
      // the stream is already gone
    }
    this.close();
  }

  private fail(
    cause: string,
    message: string,
    code: "internal" | "invalid_request" | "kv_transfer_failed" = "kv_transfer_failed",
  ): void {
    this.failWith(new RadixServeError(code, message), cause);
  }

  /** D went away: stop sending, free P's side. */
  private abort(why: string): void {
    if (this.ended) return;
    if (!this.doneSent) {
      this.span.setError(`cancelled: ${why}`);
      this.ctx.metrics.failures.inc({ cause: "cancelled" });
      log.debug({ requestId: this.job?.id, why }, "prefill session aborted");
    }
    this.close();
  }

  private close(): void {
    if (this.ended) return;
    this.ended = true;
    this.phase?.end();
    this.sendSpan?.setAttribute("radixserve.kv_bytes", this.bytesSent).end();
    this.span.end();
    clearTimeout(this.timer);
    this.ctx.live.delete(this);
    if (this.job) this.ctx.scheduler.release(this.job);
    this.sender?.close();
  }
}
