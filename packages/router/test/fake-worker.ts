/**
 * A small in-process worker gRPC server for the gateway's unit tests (a mock at the interface
 * seam: the worker contract). It "generates" the bytes of a fixed script, one token per byte, so
 * the expected text is known exactly; it records every request and honours cancel and Abort.
 */
import * as grpc from "@grpc/grpc-js";
import {
  type GenerateRequest__Output,
  type GenerateResponse,
  loadWorkerService,
  type WorkerServiceHandlers,
} from "@radixserve/core";

export const FAKE_MODEL = "fake-model";
export const FAKE_CONTEXT = 64;
export const FAKE_EOS = 0;
export const SCRIPT = "Hello world! The end is near.";

export interface FakeWorker {
  address: string;
  requests: GenerateRequest__Output[];
  cancelled: string[];
  aborted: string[];
  /** Requests running now (by id). */
  running: Set<string>;
  /** The text every request generates, one byte per token, then EOS (default SCRIPT). */
  script: string;
  /** Milliseconds between tokens (default 1). */
  tokenDelayMs: number;
  /** When set, Generate answers with this WorkerError instead of tokens. */
  failWith: { code: string; message: string; httpStatus: number } | null;
  close(): Promise<void>;
  /** Drops every connection at once, as a crashed worker would. */
  kill(): void;
}

export async function startFakeWorker(opts: { contextLength?: number } = {}): Promise<FakeWorker> {
  const { service } = loadWorkerService();
  const server = new grpc.Server();
  const state: FakeWorker = {
    address: "",
    close: async () => {},
    kill: () => {},
    requests: [],
    cancelled: [],
    aborted: [],
    running: new Set(),
    script: SCRIPT,
    tokenDelayMs: 1,
    failWith: null,
  };
  const abortFlags = new Set<string>();

  const handlers: WorkerServiceHandlers = {
    Generate(call: grpc.ServerWritableStream<GenerateRequest__Output, GenerateResponse>) {
      const req = call.request;
      state.requests.push(req);
      const id = req.requestId;
      if (state.failWith) {
        call.write({ requestId: id, error: state.failWith });
        call.end();
        return;
      }
      state.running.add(id);
      let i = 0;
      let done = false;
      const finish = (
        reason: "FINISH_REASON_STOP" | "FINISH_REASON_LENGTH" | "FINISH_REASON_ABORT",
        stopId = -1,
      ) => {
        done = true;
        state.running.delete(id);
        call.write({
          requestId: id,
          finished: {
            reason,
            usage: { promptTokens: req.inputIds.length, completionTokens: i, cachedTokens: 3 },
            matchedStopTokenId: stopId,
          },
        });
        call.end();
      };
      call.on("cancelled", () => {
        done = true;
        state.running.delete(id);
        state.cancelled.push(id);
      });
      const step = () => {
        if (done) return;
        if (abortFlags.has(id)) return finish("FINISH_REASON_ABORT");
        if (i >= req.sampling!.maxNewTokens) return finish("FINISH_REASON_LENGTH");
        const tok = i < state.script.length ? state.script.charCodeAt(i) : FAKE_EOS;
        i++;
        const lp = req.sampling!.hasLogprobs
          ? {
              logprob: -0.5,
              top: Array.from({ length: req.sampling!.logprobs }, (_, k) => ({
                tokenId: 65 + k,
                logprob: -1 - k,
              })),
            }
          : null;
        // As the contract says: a stop token is not sent, it ends the request (and is counted).
        const stops = req.sampling!.ignoreEos
          ? req.sampling!.stopTokenIds
          : [FAKE_EOS, ...req.sampling!.stopTokenIds];
        if (stops.includes(tok)) return finish("FINISH_REASON_STOP", tok);
        call.write({ requestId: id, token: { tokenId: tok, logprob: lp } });
        setTimeout(step, state.tokenDelayMs);
      };
      setTimeout(step, state.tokenDelayMs);
    },
    Abort(call, cb) {
      const id = call.request.requestId;
      state.aborted.push(id);
      abortFlags.add(id);
      cb(null, { found: state.running.has(id) });
    },
    Health(_call, cb) {
      cb(null, { status: "STATUS_SERVING", disaggMode: "unified" });
    },
    GetLoad(_call, cb) {
      cb(null, {
        runningRequests: state.running.size,
        queuedRequests: 0,
        kvBlocksFree: 100,
        kvBlocksTotal: 100,
      });
    },
    FlushCache(_call, cb) {
      cb(null, { blocksFreed: 0 });
    },
    GetModelInfo(_call, cb) {
      cb(null, {
        modelId: FAKE_MODEL,
        modelPath: "/fake",
        maxContextLength: opts.contextLength ?? FAKE_CONTEXT,
        vocabSize: 256,
        blockSize: 16,
        tpSize: 1,
        disaggMode: "unified",
        eosTokenIds: [FAKE_EOS],
        blockHashSeed: "00000000000000aa", // lets the cache-aware routing tests hash prompts
      });
    },
  };
  server.addService(service, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  state.address = `127.0.0.1:${port}`;
  state.close = () => new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  state.kill = () => server.forceShutdown();
  return state;
}
