/**
 * The router without healthy workers, and under a flood, with real processes: it starts and stays
 * up with no worker (liveness 200, readiness 503, generation 503 with Retry-After and no internal
 * address in the body), becomes ready when a worker comes, and goes back to not-ready (not down)
 * when the worker is killed. A worker flooded with requests is busy, not dead: the router never
 * marks it unhealthy and no client gets a 503.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import { ensureDefaultModel } from "@radixserve/core";
import { freePort } from "../cluster/services.js";
import { metricValue, ROOT, startCluster, waitFor } from "../harness/cluster.js";

const CLI = join(ROOT, "packages", "cli", "dist", "cli.js");
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

function start(args: string[], readyPrefix: string): { proc: ChildProcess; ready: Promise<string> } {
  const proc = spawn(process.execPath, [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RADIXSERVE_LOG_LEVEL: "warn" },
  });
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  proc.stderr!.resume();
  const ready = new Promise<string>((resolve) => {
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (line.startsWith(readyPrefix)) resolve(line.slice(readyPrefix.length).trim());
    });
  });
  return { proc, ready };
}

async function stop(proc: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  proc.kill(signal);
  const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(t);
}

describe("router availability without workers", () => {
  const procs: ChildProcess[] = [];
  after(async () => {
    for (const p of procs) await stop(p);
  });

  it("stays up not-ready, becomes ready when a worker comes, and not-ready again when it dies", async () => {
    const modelPath = await ensureDefaultModel(process.env["RADIXSERVE_CACHE"] ?? join(ROOT, ".cache"));
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    const base = `http://127.0.0.1:${httpPort}`;
    const router = start(
      ["router", "--worker-urls", `127.0.0.1:${grpcPort}`, "--host", "127.0.0.1", "--port", String(httpPort)],
      "RADIXSERVE_ROUTER_READY",
    );
    procs.push(router.proc);
    assert.ok(
      await waitFor(async () => (await fetch(`${base}/livez`).catch(() => null))?.status === 200, 30_000),
      "the router answers /livez with no worker",
    );
    const notReady = await fetch(`${base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.equal(notReady.headers.get("retry-after"), "5");
    const chat = (model: string) =>
      fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], max_tokens: 2 }),
      });
    const refused = await chat("tiny");
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "5");
    const refusedBody = await refused.text();
    assert.doesNotMatch(refusedBody, /127\.0\.0\.1|\/models\/|ECONNREFUSED/, refusedBody);
    assert.match(refused.headers.get("x-request-id") ?? "", /^req-/);

    const worker = start(
      [
        "worker",
        "--disagg-mode",
        "unified",
        "--model-path",
        modelPath,
        "--host",
        "127.0.0.1",
        "--port",
        String(grpcPort),
      ],
      "RADIXSERVE_WORKER_READY",
    );
    procs.push(worker.proc);
    await worker.ready;
    await router.ready; // printed the first time it is ready
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const models = (await (await fetch(`${base}/v1/models`)).json()) as {
      data: { id: string; root: string }[];
    };
    assert.equal(models.data[0]!.root, models.data[0]!.id, "root is the served name, not the path");
    const served = await chat(models.data[0]!.id);
    assert.equal(served.status, 200);

    await stop(worker.proc, "SIGKILL");
    assert.ok(
      await waitFor(async () => (await fetch(`${base}/readyz`)).status === 503, 15_000),
      "readiness turns 503 when the only worker is gone",
    );
    assert.equal((await fetch(`${base}/livez`)).status, 200, "liveness stays 200");
    const gone = await chat(models.data[0]!.id);
    assert.equal(gone.status, 503);
    assert.equal(gone.headers.get("retry-after"), "5");
    const goneBody = await gone.text();
    assert.doesNotMatch(goneBody, /127\.0\.0\.1|ECONNREFUSED|UNAVAILABLE/, goneBody);
    assert.equal(router.proc.exitCode, null, "the router is still running");
  });
});

describe("router under a flood: a busy worker is not dead", () => {
  it("no 503 and the worker stays healthy while it serves a flood", async () => {
    const cluster = await startCluster({ routerArgs: ["--max-pending-requests", "0"] });
    try {
      const body = (i: number) =>
        JSON.stringify({ model: cluster.modelId, prompt: `flood ${i} `.repeat(20), max_tokens: 16, n: 4 });
      let unhealthySeen = 0;
      let notReadySeen = 0;
      let flooding = true;
      const watch = (async () => {
        while (flooding) {
          const m = await (await fetch(`${cluster.routerUrl}/metrics`)).text();
          if (metricValue(m, "radixserve_router_workers_healthy") !== 1) unhealthySeen++;
          if ((await fetch(`${cluster.routerUrl}/readyz`)).status !== 200) notReadySeen++;
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const statuses = await Promise.all(
        Array.from({ length: 48 }, (_, i) =>
          fetch(`${cluster.baseUrl}/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: body(i),
          }).then(async (r) => {
            await r.arrayBuffer();
            return r.status;
          }),
        ),
      );
      flooding = false;
      await watch;
      const counts: Record<number, number> = {};
      for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
      assert.deepEqual(counts, { 200: 48 }, JSON.stringify(counts));
      assert.equal(unhealthySeen, 0, "the router never marked the flooded worker unhealthy");
      assert.equal(notReadySeen, 0);
    } finally {
      await cluster.stop();
    }
  });
});
