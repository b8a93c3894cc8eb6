/**
 * One worker as the router sees it: a typed gRPC client (contract: protos/radixserve/worker/v1)
 * with promise-returning unary calls that always carry a deadline, and a Generate call that is an
 * async iterable of events plus a cancel() that aborts the request on the worker.
 */
import type * as grpc from "@grpc/grpc-js";
import {
  type ClusterAuth,
  createWorkerClient,
  type GenerateRequest,
  type GenerateResponse__Output,
  type GetLoadResponse__Output,
  type GetModelInfoResponse__Output,
  type HealthResponse__Output,
  type WorkerServiceClient,
} from "@radixserve/core";

/** A running Generate stream. Iterate it for events; cancel() is idempotent and safe after the end. */
export interface GenerateCall extends AsyncIterable<GenerateResponse__Output> {
  cancel(): void;
}

type Unary<Res> = (
  arg: object,
  options: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;

export class WorkerClient {
  readonly address: string;
  private readonly client: WorkerServiceClient;
  /** Date.now() of the last Generate event from this worker (a sign of life under load); 0 = none. */
  lastEventAt = 0;

  /** `auth`: the cluster secret (every call carries its token) and/or mutual TLS. */
  constructor(address: string, auth?: ClusterAuth) {
    this.address = address;
    // Keepalive lets the router notice a dead worker on an idle channel, not only at the next call.
    this.client = createWorkerClient(
      address,
      { "grpc.keepalive_time_ms": 10_000, "grpc.keepalive_timeout_ms": 5_000 },
      auth,
    );
  }

  private unary<Res>(method: Unary<Res>, arg: object, timeoutMs: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(this.client, arg, { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(err);
        else if (res === undefined) reject(new Error(`empty response from worker ${this.address}`));
        else resolve(res);
      });
    });
  }

  getLoad(timeoutMs: number): Promise<GetLoadResponse__Output> {
    return this.unary(this.client.getLoad as Unary<GetLoadResponse__Output>, {}, timeoutMs);
  }

  health(timeoutMs: number): Promise<HealthResponse__Output> {
    return this.unary(this.client.health as Unary<HealthResponse__Output>, {}, timeoutMs);
  }

  modelInfo(timeoutMs: number): Promise<GetModelInfoResponse__Output> {
    return this.unary(this.client.getModelInfo as Unary<GetModelInfoResponse__Output>, {}, timeoutMs);
  }

  /** Drops every unlocked entry of the worker's prefix cache; resolves with the blocks freed. */
  flushCache(timeoutMs: number): Promise<number> {
    return this.unary(this.client.flushCache as Unary<{ blocksFreed: number }>, {}, timeoutMs).then(
      (r) => r.blocksFreed,
    );
  }

  abort(requestId: string, timeoutMs: number): Promise<boolean> {
    return this.unary(this.client.abort as Unary<{ found: boolean }>, { requestId }, timeoutMs).then(
      (r) => r.found,
    );
  }

  /** `metadata`: the caller's trace context (traceMetadata), when tracing is on. */
  generate(req: GenerateRequest, metadata?: grpc.Metadata): GenerateCall {
    const call = metadata ? this.client.generate(req, metadata) : this.client.generate(req);
    let cancelled = false;
    return {
      cancel() {
        if (cancelled) return;
        cancelled = true;
        call.cancel();
      },
      [Symbol.asyncIterator]: () => {
        const it = call[Symbol.asyncIterator]() as AsyncIterator<GenerateResponse__Output>;
        return {
          next: async () => {
            const r = await it.next();
            if (!r.done) this.lastEventAt = Date.now();
            return r;
          },
          return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true, value }),
        } as AsyncIterator<GenerateResponse__Output>;
      },
    };
  }

  close(): void {
    this.client.close();
  }
}
