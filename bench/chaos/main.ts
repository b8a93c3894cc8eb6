/**
 * Chaos bench: a PD cluster (2 prefill + 2 decode workers, Redis discovery, NATS events, a router
 * with an API key) on loopback under 24 clients, while faults are injected one after another:
 * kill -9 of a prefill worker, kill -9 of a decode worker, SIGSTOP of a decode worker (resumed
 * after --stop-secs), a Redis restart and a NATS restart. Killed workers are replaced after their
 * phase. Bounded: --phase-secs per phase (default 8) plus a baseline phase, a hang limit per
 * request (--hang-secs, default 30), and one drain at the end.
 *
 * Prints, per phase (by the time each request started): requests ok / failed with a clean error /
 * hung / lost, and non-streaming failures that could have been retried; the ok share as a ratio
 * of the baseline phase's; then every live worker's leaked KV blocks (total - free after its
 * prefix cache is flushed, with nothing running). Goal: 0 hung, 0 lost, 0 leaked, 0 retryable.
 *
 *   npm run bench -- chaos [--phase-secs 8] [--stop-secs 4] [--hang-secs 30] [--clients 24] [--max-tokens 24]
 */
import { parseArgs } from "node:util";
import { createWorkerClient, type GetLoadResponse__Output, type WorkerServiceClient } from "@radixserve/core";
import { startClusterServices, type WorkerProc } from "../../test/cluster/cluster-harness.js";
import { type Result, runLoad } from "./clients.js";

const { values: a } = parseArgs({
  options: {
    "phase-secs": { type: "string", default: "8" },
    "stop-secs": { type: "string", default: "4" },
    "hang-secs": { type: "string", default: "30" },
    clients: { type: "string", default: "24" },
    "max-tokens": { type: "string", default: "24" },
  },
});
const PHASE_MS = Number(a["phase-secs"]) * 1000;
const STOP_MS = Number(a["stop-secs"]) * 1000;
const KEY = "sk-chaos";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function unary<T>(fn: (cb: (err: Error | null, res?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res as T))));
}

async function leakedBlocks(client: WorkerServiceClient): Promise<{ leaked: number; total: number }> {
  for (let i = 0; i < 50; i++) {
    const load = await unary<GetLoadResponse__Output>((cb) =>
      client.getLoad({}, { deadline: Date.now() + 2000 }, cb),
    );
    if (load.runningRequests === 0 && load.queuedRequests === 0) break;
    await sleep(100);
  }
  await unary((cb) => client.flushCache({}, { deadline: Date.now() + 5000 }, cb));
  const load = await unary<GetLoadResponse__Output>((cb) =>
    client.getLoad({}, { deadline: Date.now() + 2000 }, cb),
  );
  return { leaked: load.kvBlocksTotal - load.kvBlocksFree, total: load.kvBlocksTotal };
}

async function main(): Promise<void> {
  const cluster = await startClusterServices();
  const roles = new Map<WorkerProc, string>();
  const start = async (role: "prefill" | "decode", name: string) => {
    const w = await cluster.startWorker(["--disagg-mode", role]);
    roles.set(w, name);
    return w;
  };
  try {
    const prefill = [await start("prefill", "prefill-0"), await start("prefill", "prefill-1")];
    const decode = [await start("decode", "decode-0"), await start("decode", "decode-1")];
    const router = await cluster.startRouter(["--api-key", KEY, "--max-retries", "3"]);
    const models = (await (
      await fetch(`${router.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })
    ).json()) as { data: { id: string }[] };
    const load = runLoad({
      routerUrl: router.url,
      apiKey: KEY,
      model: models.data[0]!.id,
      clients: Number(a.clients),
      hangMs: Number(a["hang-secs"]) * 1000,
      maxTokens: Number(a["max-tokens"]),
    });

    const phases: { name: string; from: number; to: number }[] = [];
    const phase = async (
      name: string,
      fault: () => Promise<void>,
      after: () => Promise<void> = async () => {},
    ) => {
      // The first phase also owns the requests the clients sent before it began.
      const from = phases.length === 0 ? 0 : Date.now();
      await fault();
      await sleep(PHASE_MS);
      phases.push({ name, from, to: Date.now() });
      await after();
    };
    await phase("baseline (no fault)", async () => {});
    await phase(
      "kill -9 prefill-0",
      async () => prefill[0]!.kill(),
      async () => {
        prefill[0] = await start("prefill", "prefill-0'");
      },
    );
    await phase(
      "kill -9 decode-0",
      async () => decode[0]!.kill(),
      async () => {
        decode[0] = await start("decode", "decode-0'");
      },
    );
    await phase(`SIGSTOP decode-1 for ${STOP_MS / 1000} s`, async () => {
      decode[1]!.proc.kill("SIGSTOP");
      setTimeout(() => decode[1]!.proc.kill("SIGCONT"), STOP_MS);
    });
    await phase("restart Redis", async () => {
      await cluster.redis.kill();
      await sleep(500);
      await cluster.redis.start();
    });
    await phase("restart NATS", async () => {
      await cluster.nats.kill();
      await sleep(500);
      await cluster.nats.start();
    });
    load.stop();
    const results = await load.results;

    const rows = phases.map((p) => {
      const mine = results.filter((r: Result) => r.startedAt >= p.from && r.startedAt < p.to);
      const n = (o: Result["outcome"]) => mine.filter((r) => r.outcome === o).length;
      return {
        phase: p.name,
        requests: mine.length,
        ok: n("ok"),
        clean: n("clean"),
        hung: n("hung"),
        lost: n("lost"),
        retryable: mine.filter((r) => r.retryable).length,
        details: [...new Set(mine.filter((r) => r.outcome !== "ok").map((r) => r.detail))].slice(0, 4),
      };
    });
    const base = rows[0]!;
    const baseShare = base.requests > 0 ? base.ok / base.requests : 1;
    console.log(`\nchaos bench: ${a.clients} clients, ${PHASE_MS / 1000} s per phase, loopback`);
    console.log(
      "phase                          requests    ok  clean  hung  lost  retryable  ok share vs baseline",
    );
    for (const r of rows) {
      const share = r.requests > 0 ? r.ok / r.requests / baseShare : 0;
      console.log(
        `${r.phase.padEnd(30)} ${String(r.requests).padStart(8)} ${String(r.ok).padStart(5)} ${String(r.clean).padStart(6)} ` +
          `${String(r.hung).padStart(5)} ${String(r.lost).padStart(5)} ${String(r.retryable).padStart(10)}  ${share.toFixed(2)}x`,
      );
      if (r.details.length > 0) console.log(`${"".padEnd(31)}failures: ${r.details.join("; ")}`);
    }
    console.log("\nleaked KV blocks after the run (prefix cache flushed, nothing running):");
    let leakedTotal = 0;
    for (const w of [...prefill, ...decode]) {
      const client = createWorkerClient(w.address);
      try {
        const { leaked, total } = await leakedBlocks(client);
        leakedTotal += leaked;
        console.log(`  ${roles.get(w)!.padEnd(12)} ${w.address}  leaked ${leaked} of ${total}`);
      } catch (err) {
        console.log(`  ${roles.get(w)!.padEnd(12)} ${w.address}  not answering: ${(err as Error).message}`);
      } finally {
        client.close();
      }
    }
    const sum = (k: "hung" | "lost" | "retryable") => rows.reduce((s, r) => s + r[k], 0);
    console.log(
      `\ntotal: ${results.length} requests, hung ${sum("hung")}, lost ${sum("lost")}, ` +
        `retryable non-streaming failures ${sum("retryable")}, leaked blocks ${leakedTotal}`,
    );
  } finally {
    await cluster.stop();
  }
}

await main();
