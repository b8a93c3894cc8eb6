/** A gateway in front of one fake worker (real gRPC, fastify inject), for the gateway's unit tests. */
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { buildGateway } from "../src/gateway/server.js";
import { WorkerPool } from "../src/workers/worker-pool.js";
import { FakeCodec } from "./fake-codec.js";
import { type FakeWorker, startFakeWorker } from "./fake-worker.js";

export interface FakeGateway {
  worker: FakeWorker;
  app: FastifyInstance;
  /** POSTs a JSON body. */
  post(url: string, body: unknown): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export async function startFakeGateway(opts: { contextLength?: number } = {}): Promise<FakeGateway> {
  const worker = await startFakeWorker(opts);
  const pool = new WorkerPool([worker.address], { pollIntervalMs: 50 });
  await pool.start();
  await pool.waitHealthy(5000);
  const { app } = await buildGateway({ pool, codec: new FakeCodec() });
  return {
    worker,
    app,
    post: (url, body) =>
      app.inject({
        method: "POST",
        url,
        headers: { "content-type": "application/json" },
        payload: JSON.stringify(body),
      }),
    close: async () => {
      await app.close();
      pool.stop();
      await worker.close();
    },
  };
}
