/**
 * `radixserve start` (the launcher) as a user runs it: ready line and base URL, a request through
 * it, SIGTERM stops every child, a crashed child is reported and stops the rest, bad flags exit
 * non-zero with one line.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ROOT, waitFor } from "./harness/cluster.js";
import { alive, CLI, env, launch } from "./harness/launcher.js";

describe("launcher: radixserve start", () => {
  it("prints the base URL, serves, and stops every child on SIGTERM", async () => {
    const l = await launch();
    try {
      assert.match(l.ready.baseUrl, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      const models = (await (await fetch(`${l.ready.baseUrl}/models`)).json()) as { data: { id: string }[] };
      const res = await fetch(`${l.ready.baseUrl}/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: models.data[0]!.id, prompt: "Hello", max_tokens: 3, temperature: 0 }),
      });
      assert.equal(res.status, 200);
      // The ready line lists the workers' /metrics (prefill and decode by default): the decode
      // worker's step profile counts that request's decode steps.
      assert.equal(l.ready.workerMetricsUrls.length, 2);
      let steps = 0;
      let decodeTokens = 0;
      for (const url of l.ready.workerMetricsUrls) {
        const text = await (await fetch(url)).text();
        steps += Number(/^radixserve_step_seconds_count\{[^}]*\} (\d+)$/m.exec(text)?.[1] ?? 0);
        decodeTokens += Number(
          /^radixserve_step_tokens_total\{[^}]*kind="decode"[^}]*\} (\d+)$/m.exec(text)?.[1] ?? 0,
        );
      }
      assert.ok(steps >= 2, `decode steps for 3 tokens (the first comes from the prefill worker): ${steps}`);
      assert.ok(decodeTokens >= 2, `decode tokens: ${decodeTokens}`);
      l.proc.kill("SIGTERM");
      const e = await l.exit;
      assert.equal(e.code, 0, l.stderr());
      assert.ok(await waitFor(async () => !alive(l.ready.pids.worker) && !alive(l.ready.pids.router), 5000));
    } finally {
      l.proc.kill("SIGKILL");
    }
  });

  it("reports a crashed worker, stops the router and exits non-zero", async () => {
    const l = await launch();
    try {
      process.kill(l.ready.pids.worker, "SIGKILL");
      const e = await l.exit;
      assert.equal(e.code, 1);
      assert.match(l.stderr(), /worker exited unexpectedly \(killed by SIGKILL\)/);
      assert.ok(await waitFor(async () => !alive(l.ready.pids.router), 5000), "router stopped");
    } finally {
      l.proc.kill("SIGKILL");
      for (const pid of Object.values(l.ready.pids)) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  });

  it("bad flags exit non-zero with a one-line message", () => {
    for (const args of [
      ["start", "--port", "nope"],
      ["router"],
      ["make-model"],
      ["make-model", "--out", join(ROOT, ".cache", "never"), "--preset", "huge"],
      ["frobnicate"],
    ]) {
      const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: "utf8" });
      assert.notEqual(r.status, 0, args.join(" "));
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(r.stderr, /^radixserve: /);
    }
  });
});
