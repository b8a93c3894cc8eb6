/**
 * One request's KV transfer on a decode worker (the D side of the protocol in worker.proto):
 * reserve blocks (KvReserver), open the Prefill stream to the paired prefill worker, import each
 * chunk as it arrives (checking its CRC-32, acking it to open the window), and on `done` hand the
 * blocks and the first token to the scheduler (adoptPrefilled), which decodes from there.
 *
 * Deadlines: the reservation (waiting for blocks) and the transfer (from the start message to
 * `done`, i.e. every byte and the first token) each have one. Every failure path releases the
 * reservation, closes the transport's receiver and cancels the stream (which frees P's side), then
 * reports `kv_transfer_failed` (retryable on another prefill worker) or the prefill worker's own
 * non-retryable error.
 */
import type * as grpc from "@grpc/grpc-js";
import {
  type GenerateRequest__Output,
  getLogger,
  getTracer,
  NOOP_TRACER,
  type PrefillClientMessage,
  type PrefillDone__Output,
  type PrefillServerMessage__Output,
  type PrefillServiceClient,
  RadixServeError,
  type Span,
  traceMetadata,
} from "@radixserve/core";
import { type Engine, kvSink } from "@radixserve/engine-native";
import {
  foldChunkCrc,
  type KvChunkPayload,
  type KvReceiver,
  type KvTransferFailure,
  type KvTransferMetrics,
  type KvTransport,
} from "@radixserve/kv-transfer";
import { fromProtoLogprob, fromProtoPromptLogprobs } from "../../logprob.js";
import type { RequestParams, RequestSink, Scheduler } from "../../scheduler/index.js";
import type { KvReserver, Reservation } from "./kv-reserver.js";

const log = getLogger("disagg");

export interface TransferSettings {
  reserveTimeoutMs: number;
  transferTimeoutMs: number;
  windowChunks: number;
  chunkBytes: number;
  /** Re-export imported blocks and compare their CRC with P's (tests; costs one extra copy). */
  verifyImports: boolean;
}

export interface TransferDeps {
  scheduler: Scheduler;
  /** Block imports from any source (kv-io, CRC-32C computed in the copy) and the tcp registration. */
  engine: Pick<Engine, "importBlocks" | "exportBlocks" | "expectBlocksFrom" | "info">;
  reserver: KvReserver;
  transport: KvTransport;
  metrics: KvTransferMetrics;
  blockHashSeed: string;
  settings: TransferSettings;
  client: (address: string) => PrefillServiceClient;
  /** Transfers in progress, by request id (Abort and the in-flight gauge read it). */
  live: Map<string, { cancel(): void }>;
  /** Blocks held back until a stopped writer lets go of them (the quarantined-blocks gauge). */
  quarantine?: { blocks: number };
}

class TransferFailure extends Error {
  constructor(
    readonly cause_: KvTransferFailure,
    readonly error: RadixServeError,
  ) {
    super(error.message);
  }
}

/**
 * Runs the transfer; on success the request is running in the scheduler (its sink got the first
 * token). Reports every failure through the sink. Returns a cancel function.
 */
export function startTransfer(
  deps: TransferDeps,
  params: RequestParams,
  req: GenerateRequest__Output,
  hashes: string[],
  sink: RequestSink,
  trace: Span = NOOP_TRACER.startSpan("kv_transfer"),
): { cancel(): void } {
  const ac = new AbortController();
  const t = new DecodeTransfer(deps, params, req, hashes, sink, ac.signal, trace);
  deps.live.set(params.id, { cancel: () => ac.abort() });
  void t.run().finally(() => deps.live.delete(params.id));
  return { cancel: () => ac.abort() };
}

class DecodeTransfer {
  private reservation: Reservation | null = null;
  private receiver: KvReceiver | null = null;
  private stream: grpc.ClientDuplexStream<PrefillClientMessage, PrefillServerMessage__Output> | null = null;
  private imports: Promise<void> = Promise.resolve();
  private nextSeq = 0;
  private crc = 0;
  /** Per chunk: its block range and CRC (for --kv-verify-imports). */
  private readonly chunkSpans: { first: number; n: number; crc: number }[] = [];
  private bytes = 0;
  private blocks = 0;
  private readonly bpb: number;
  /** From the start message to the adoption; the prefill worker's spans are its children. */
  private transferSpan: Span | null = null;

  constructor(
    private readonly deps: TransferDeps,
    private readonly params: RequestParams,
    private readonly req: GenerateRequest__Output,
    private readonly hashes: string[],
    private readonly sink: RequestSink,
    private readonly signal: AbortSignal,
    private readonly trace: Span,
  ) {
    this.bpb = deps.engine.info.bytesPerBlock;
  }

  async run(): Promise<void> {
    const { settings } = this.deps;
    const numBlocks = Math.ceil(this.params.inputIds.length / this.deps.engine.info.blockSize);
    let started = 0;
    const tracer = getTracer();
    // This worker's queue: waiting for KV blocks to reserve.
    const reserveSpan = tracer.startSpan("kv_reserve", {
      parent: this.trace,
      attributes: { "radixserve.blocks": numBlocks },
    });
    try {
      try {
        this.reservation = await this.deps.reserver.reserve(
          this.hashes,
          numBlocks,
          settings.reserveTimeoutMs,
          this.signal,
        );
      } catch (err) {
        const e = err instanceof RadixServeError ? err : new RadixServeError("internal", String(err));
        reserveSpan.setError(`${e.code}: ${e.message}`).end();
        throw new TransferFailure(e.code === "aborted" ? "cancelled" : "reservation_timeout", e);
      }
      const r = this.reservation;
      reserveSpan.setAttribute("radixserve.cached_blocks", r.cachedBlocks).end();
      this.transferSpan = tracer.startSpan("kv_transfer", {
        parent: this.trace,
        kind: "client",
        attributes: {
          "radixserve.prefill_worker": this.req.prefillAddress,
          "radixserve.blocks": numBlocks - r.cachedBlocks,
        },
      });
      const fresh = numBlocks - r.cachedBlocks;
      started = performance.now(); // transfer latency: from the start message to the adoption
      const engine = this.deps.engine;
      // The reserved blocks, so a transport can land the bytes straight in them (native tcp).
      const target = { pool: engine, blockIds: Int32Array.from(r.blocks.slice(r.cachedBlocks)) };
      this.receiver = await this.deps.transport.openReceiver(this.params.id, fresh * this.bpb, target);
      const done = await this.exchange(r, numBlocks);
      await this.imports;
      if (this.blocks !== fresh || this.crc !== done.crc32 || this.bytes !== Number(done.bytesSent))
        throw this.failure(
          "checksum",
          `received ${this.blocks}/${fresh} blocks, ${this.bytes} bytes (crc ${this.crc}); P sent ${done.blocksSent}, ${done.bytesSent} (crc ${done.crc32})`,
        );
      // Every chunk is in and checked, and P sent `done`: nothing writes into the medium again
      // (direct shm: the revoke makes sure of it before the blocks are adopted).
      await this.receiver.quiesce?.();
      this.receiver.complete?.();
      if (settings.verifyImports) await this.verify(r);
      if (this.signal.aborted)
        throw new TransferFailure("cancelled", new RadixServeError("aborted", "request cancelled"));
      this.transferSpan
        .setAttribute("radixserve.transport", done.transport || "grpc")
        .setAttribute("radixserve.kv_bytes", this.bytes)
        .end();
      const first = done.firstToken;
      const adopted = this.deps.scheduler.adoptPrefilled(this.params, this.sink, {
        lease: r,
        cachedTokens: Math.max(r.cachedBlocks * this.deps.engine.info.blockSize, done.cachedTokens),
        firstToken: first?.tokenId ?? -1,
        ...(first?.logprob ? { firstLogprob: fromProtoLogprob(first.logprob) } : {}),
        ...(done.promptLogprobs ? { promptLogprobs: fromProtoPromptLogprobs(done.promptLogprobs) } : {}),
      });
      if (!adopted.ok) throw new TransferFailure("protocol", adopted.error);
      this.reservation = null;
      this.deps.reserver.handedOver();
      this.deps.live.delete(this.params.id);
      this.send({ doneAck: { ok: true, error: "" } });
      this.stream?.end();
      this.deps.metrics.recordTransfer(
        done.transport || "grpc",
        this.bytes,
        this.blocks,
        (performance.now() - started) / 1000,
      );
      if (this.deps.transport.name === "shm" && done.transport !== "shm")
        log.debug(
          { requestId: this.params.id, used: done.transport },
          "shm offer not usable by the prefill worker; bytes went inline",
        );
    } catch (err) {
      const f =
        err instanceof TransferFailure
          ? err
          : new TransferFailure(
              "protocol",
              new RadixServeError("kv_transfer_failed", String((err as Error)?.message ?? err)),
            );
      this.deps.metrics.failures.inc({ cause: f.cause_ });
      this.transferSpan?.setError(`${f.cause_}: ${f.error.message}`).end();
      log.debug({ requestId: this.params.id, cause: f.cause_, msg: f.error.message }, "KV transfer failed");
      if (this.stream) {
        try {
          this.send({ doneAck: { ok: false, error: f.error.message } });
        } catch {
          // stream already gone
        }
        this.stream.cancel();
      }
      if (!this.signal.aborted) this.sink({ type: "error", error: f.error });
      if (this.reservation) {
        const reservation = this.reservation;
        this.reservation = null;
        // Direct shm: P writes into these blocks itself; they go back only once it cannot any more
        // (at once, unless P is stopped in the middle of a copy).
        const q = this.deps.quarantine;
        const held = reservation.blocks.length - reservation.cachedBlocks;
        if (q) q.blocks += held;
        try {
          await this.receiver?.quiesce?.();
        } finally {
          if (q) q.blocks -= held;
        }
        // Imports already queued on the engine finish before any later step can reuse these blocks.
        this.deps.reserver.release(reservation);
      }
    } finally {
      this.receiver?.close();
    }
  }

  /** Reads every imported chunk back from the pool and checks it against the CRC P sent. */
  private async verify(r: Reservation): Promise<void> {
    for (const span of this.chunkSpans) {
      const ids = Int32Array.from(r.blocks.slice(span.first, span.first + span.n));
      if (
        (await this.deps.engine.exportBlocks(
          ids,
          kvSink.memory(Buffer.allocUnsafe(ids.length * this.bpb)),
        )) !== span.crc
      )
        throw this.failure(
          "checksum",
          `blocks [${span.first}, +${span.n}) read back differ from what P sent`,
        );
    }
  }

  /**
   * Imports one chunk into its reserved blocks and returns the CRC-32C of its bytes. Native
   * receivers (shm, tcp) import straight from their medium; inline bytes are imported with the CRC
   * computed in the same pass.
   */
  private async importChunk(ids: Int32Array, payload: KvChunkPayload): Promise<number> {
    const engine = this.deps.engine;
    const receiver = this.receiver!;
    if (receiver.receiveBlocks) return receiver.receiveBlocks(engine, ids, payload);
    const bytes = await receiver.read(payload);
    if (bytes.byteLength !== payload.byteLength)
      throw this.failure(
        "protocol",
        `chunk carries ${bytes.byteLength} bytes, announces ${payload.byteLength}`,
      );
    return engine.importBlocks(ids, bytes);
  }

  private failure(cause: KvTransferFailure, message: string): TransferFailure {
    return new TransferFailure(
      cause,
      new RadixServeError("kv_transfer_failed", `KV transfer of request ${this.params.id}: ${message}`),
    );
  }

  private send(m: PrefillClientMessage): void {
    this.stream?.write(m);
  }

  /** Opens the stream, imports chunks in order, resolves with P's `done`. */
  private exchange(r: Reservation, numBlocks: number): Promise<PrefillDone__Output> {
    const address = this.req.prefillAddress;
    const { settings } = this.deps;
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (f: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.signal.removeEventListener("abort", onAbort);
        f();
      };
      const timer = setTimeout(
        () =>
          settle(() =>
            reject(
              new TransferFailure(
                "transfer_timeout",
                new RadixServeError(
                  "kv_transfer_failed",
                  `prefill worker ${address} did not deliver the KV and first token of request ${this.params.id} within ${settings.transferTimeoutMs} ms`,
                ),
              ),
            ),
          ),
        settings.transferTimeoutMs,
      );
      const onAbort = () =>
        settle(() =>
          reject(new TransferFailure("cancelled", new RadixServeError("aborted", "request cancelled"))),
        );
      this.signal.addEventListener("abort", onAbort, { once: true });
      if (this.signal.aborted) return onAbort();

      let nextBlock = r.cachedBlocks;
      const client = this.deps.client(address);
      const md = this.transferSpan ? traceMetadata(this.transferSpan) : undefined;
      const stream = md ? client.prefill(md) : client.prefill();
      this.stream = stream;
      stream.on("data", (m: PrefillServerMessage__Output) => {
        if (settled) return;
        if (m.msg === "chunk" && m.chunk) {
          const c = m.chunk;
          if (
            c.seq !== this.nextSeq++ ||
            c.firstBlock !== nextBlock || // in order, no gap, no overlap: each block exactly once
            c.numBlocks <= 0 ||
            c.firstBlock + c.numBlocks > numBlocks ||
            c.byteLength !== c.numBlocks * this.bpb
          ) {
            settle(() =>
              reject(
                this.failure(
                  "protocol",
                  `bad chunk seq ${c.seq} blocks [${c.firstBlock}, +${c.numBlocks}) ${c.byteLength} bytes`,
                ),
              ),
            );
            return;
          }
          nextBlock += c.numBlocks;
          const ids = Int32Array.from(r.blocks.slice(c.firstBlock, c.firstBlock + c.numBlocks));
          const payload = {
            data: c.data,
            offset: Number(c.offset),
            byteLength: c.byteLength,
            crc32: c.crc32,
            via: c.transport,
          };
          // Chained: imports (and the running CRC) stay in send order.
          this.imports = this.imports.then(async () => {
            // A bad chunk lands only in reserved blocks, which nobody reads before adoption, and
            // fails the transfer.
            const crc = await this.importChunk(ids, payload);
            if (crc !== c.crc32) throw this.failure("checksum", `chunk ${c.seq} CRC mismatch`);
            this.crc = foldChunkCrc(this.crc, c.crc32);
            this.chunkSpans.push({ first: c.firstBlock, n: c.numBlocks, crc: c.crc32 });
            this.bytes += c.byteLength;
            this.blocks += c.numBlocks;
            if (!settled) this.send({ chunkAck: { seq: c.seq } });
          });
          this.imports.catch((err: unknown) =>
            settle(() =>
              reject(
                err instanceof TransferFailure ? err : this.failure("import", String((err as Error).message)),
              ),
            ),
          );
        } else if (m.msg === "done" && m.done) {
          const done = m.done;
          settle(() => resolve(done));
        } else if (m.msg === "error" && m.error) {
          const e = RadixServeError.fromWorkerError(m.error);
          // P's own verdict on the request (invalid, draining) is final; anything else is retryable.
          const final = e.code === "invalid_request" || e.code === "prompt_too_long";
          settle(() =>
            reject(
              new TransferFailure(
                "peer_error",
                final
                  ? e
                  : new RadixServeError("kv_transfer_failed", `prefill worker ${address}: ${e.message}`),
              ),
            ),
          );
        }
      });
      const lost = (why: string) =>
        settle(() =>
          reject(
            new TransferFailure(
              "peer_unavailable",
              new RadixServeError(
                "kv_transfer_failed",
                `prefill worker ${address} ${why} during the KV transfer of request ${this.params.id}`,
              ),
            ),
          ),
        );
      stream.on("error", (err: Error) => lost(`failed (${err.message})`));
      stream.on("end", () => lost("ended the stream"));
      stream.write({
        start: {
          request: this.req,
          skipBlocks: r.cachedBlocks,
          numBlocks,
          offer: this.receiver!.offer,
          windowChunks: settings.windowChunks,
          blockHashSeed: this.deps.blockHashSeed,
          chunkBytes: this.receiver!.chunkBytes ?? settings.chunkBytes,
        },
      });
    });
  }
}
