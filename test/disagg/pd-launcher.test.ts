/**
 * `radixserve start` starts a disaggregated cluster by default (router + 1 prefill + 1 decode
 * worker), with --num-prefill / --num-decode for the counts, and `--disagg-mode unified` keeps the
 * classic router + unified worker. Each launch serves a completion and stops every child.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { ROOT, waitFor } from "./pd-harness.js";

const CLI = join(ROOT, "packages", "cli", "dist", "cli.js");

interface Ready {
  baseUrl: string;
  pids: Record<string, number>;
}

async function launch(
  args: string[],
): Promise<{ proc: ChildProcess; ready: Ready; exit: Promise<number | null> }> {
  const proc = spawn(
    process.execPath,
    [CLI, "start", "--port", "0", "--kv-cache-blocks", "128", "--threads", "1", ...args],
    {
      env: {
        ...process.env,
        RADIXSERVE_CACHE: process.env["RADIXSERVE_CACHE"] ?? join(ROOT, ".cache"),
        RADIXSERVE_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let err = "";
  proc.stderr!.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exit = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`launcher not ready:\n${err}`)), 60_000);
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      if (line.startsWith("RADIXSERVE_READY ")) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice("RADIXSERVE_READY ".length)) as Ready);
      }
    });
    void exit.then((c) => {
      clearTimeout(timer);
      reject(new Error(`launcher exited (${c}) before ready:\n${err}`));
    });
  });
  return { proc, ready, exit };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function serveAndStop(args: string[], expectRoles: string[]): Promise<void> {
  const l = await launch(args);
  try {
    for (const role of expectRoles)
      assert.ok(l.ready.pids[role], `pids has ${role}: ${JSON.stringify(l.ready.pids)}`);
    const models = (await (await fetch(`${l.ready.baseUrl}/models`)).json()) as { data: { id: string }[] };
    const res = await fetch(`${l.ready.baseUrl}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: models.data[0]!.id,
        prompt: "Disaggregated by default, one prefill and one decode worker behind the router.",
        max_tokens: 4,
        temperature: 0,
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    l.proc.kill("SIGTERM");
    assert.equal(await l.exit, 0);
    const pids = Object.values(l.ready.pids);
    assert.ok(await waitFor(async () => pids.every((p) => !alive(p)), 5000), "every child stopped");
  } finally {
    l.proc.kill("SIGKILL");
    for (const pid of Object.values(l.ready.pids)) if (alive(pid)) process.kill(pid, "SIGKILL");
  }
}

describe("launcher: disaggregated by default", () => {
  it("starts router + 1 prefill + 1 decode worker, serves, and stops them all", async () => {
    await serveAndStop([], ["router", "worker", "prefill-0", "decode-0"]);
  });

  it("--disagg-mode unified keeps router + one unified worker", async () => {
    await serveAndStop(["--disagg-mode", "unified"], ["router", "worker"]);
  });
});
