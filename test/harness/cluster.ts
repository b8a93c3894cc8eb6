/**
 * The one cluster harness of the integration tests: boots a real unified worker and a real router
 * as separate processes through the `radixserve` CLI (packages/cli/dist/cli.js, so run after
 * `npm run build`), on free loopback ports, serving the default tiny model (made once with
 * makeModel into <repo>/.cache, or $RADIXSERVE_CACHE). It waits for both READY lines and the
 * router's /health, and always cleans up: stop() kills both, and a process exit hook kills any
 * child a crashed test left behind.
 */
import { join } from "node:path";
import {
  createWorkerClient,
  ensureDefaultModel,
  type GetLoadResponse__Output,
  ROUTER_READY_PREFIX,
  WORKER_READY_PREFIX,
  type WorkerServiceClient,
} from "@radixserve/core";
import {
  CLI_PATH,
  metricValue,
  REPO_ROOT,
  type ReadyProcess,
  spawnReady,
  waitFor,
} from "@radixserve/testkit";

export const ROOT = REPO_ROOT;
export { metricValue, waitFor };

export interface ClusterOptions {
  /** Extra worker flags, e.g. ["--disable-radix-cache"]. */
  workerArgs?: string[];
  /** Extra router flags, e.g. ["--max-request-bytes", "65536"]. */
  routerArgs?: string[];
  apiKey?: string;
  modelPath?: string;
}

export interface Cluster {
  /** OpenAI base URL, e.g. http://127.0.0.1:PORT/v1 */
  baseUrl: string;
  routerUrl: string;
  workerAddress: string;
  workerMetricsUrl: string;
  modelPath: string;
  modelId: string;
  /** The worker's GetLoad over gRPC. */
  workerLoad(): Promise<GetLoadResponse__Output>;
  /** The worker's Prometheus text. */
  workerMetrics(): Promise<string>;
  /** Stops router and worker (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

function unary<T>(fn: (cb: (err: Error | null, res?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res as T))));
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const modelPath =
    opts.modelPath ?? (await ensureDefaultModel(process.env["RADIXSERVE_CACHE"] ?? join(ROOT, ".cache")));
  const worker = await spawnReady<{ grpcPort: number; metricsPort: number }>({
    name: "worker",
    argv: [
      CLI_PATH,
      "worker",
      "--disagg-mode",
      "unified",
      "--model-path",
      modelPath,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      ...(opts.workerArgs ?? []),
    ],
    prefix: WORKER_READY_PREFIX,
  });
  let router: ReadyProcess<{ port: number }> | null = null;
  let client: WorkerServiceClient | null = null;
  try {
    const w = worker.ready;
    const workerAddress = `127.0.0.1:${w.grpcPort}`;
    router = await spawnReady<{ port: number }>({
      name: "router",
      argv: [
        CLI_PATH,
        "router",
        "--worker-urls",
        workerAddress,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        ...(opts.apiKey ? ["--api-key", opts.apiKey] : []),
        ...(opts.routerArgs ?? []),
      ],
      prefix: ROUTER_READY_PREFIX,
    });
    const routerUrl = `http://127.0.0.1:${router.ready.port}`;
    const health = await fetch(`${routerUrl}/health`);
    if (health.status !== 200) throw new Error(`router /health answered ${health.status}`);
    const models = (await (
      await fetch(`${routerUrl}/v1/models`, {
        headers: opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {},
      })
    ).json()) as { data: { id: string }[] };
    const c = createWorkerClient(workerAddress);
    client = c;
    const routerProc = router;
    return {
      baseUrl: `${routerUrl}/v1`,
      routerUrl,
      workerAddress,
      workerMetricsUrl: `http://127.0.0.1:${w.metricsPort}/metrics`,
      modelPath,
      modelId: models.data[0]!.id,
      workerLoad: () => unary<GetLoadResponse__Output>((cb) => c.getLoad({}, cb)),
      workerMetrics: async () => (await fetch(`http://127.0.0.1:${w.metricsPort}/metrics`)).text(),
      async stop() {
        c.close();
        await routerProc.stop();
        await worker.stop();
      },
    };
  } catch (err) {
    client?.close();
    if (router) await router.stop();
    await worker.stop();
    throw err;
  }
}
