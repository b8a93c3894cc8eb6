/**
 * Faults in disaggregated serving, with real processes: a stalled prefill worker (SIGSTOP: the
 * decode worker's transfer deadline frees the reservation), a prefill worker killed -9 while it
 * prefills, and a decode worker killed -9 mid-decode and mid-transfer. Each outcome is clean (an
 * error value on the stream, never a hang) and every surviving pool returns to idle.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  defaultModel,
  generate,
  greedyRequest,
  metricSum,
  prompt,
  startWorker,
  type WorkerProc,
  waitFor,
} from "./pd-harness.js";

let model: string;
const procs: WorkerProc[] = [];
let common: string[];

async function start(mode: "prefill" | "decode", args: string[] = []): Promise<WorkerProc> {
  const w = await startWorker(mode, [...common, ...args]);
  procs.push(w);
  return w;
}

async function idle(w: WorkerProc): Promise<boolean> {
  return waitFor(async () => {
    const l = await w.load();
    return l.kvBlocksFree === l.kvBlocksTotal && l.runningRequests === 0 && l.queuedRequests === 0;
  }, 5000);
}

/** Waits until P has a request holding blocks (it is prefilling or transferring). */
async function busy(w: WorkerProc): Promise<boolean> {
  return waitFor(async () => (await w.load()).runningRequests > 0, 5000);
}

before(async () => {
  model = await defaultModel();
  common = ["--model-path", model, "--kv-cache-blocks", "256", "--disagg-prefill-threshold", "0"];
});

after(async () => {
  await Promise.all(procs.map((w) => w.stop()));
});

describe("disaggregation faults (real workers)", () => {
  test("a stalled prefill worker: D's transfer deadline frees the reservation; P frees its side when resumed", async () => {
    const [p, d] = await Promise.all([
      start("prefill"),
      start("decode", ["--kv-transfer-timeout-ms", "800"]),
    ]);
    const warm = await generate(d.client, greedyRequest(prompt(40, 1), 2, p.address));
    assert.equal(warm.error, null);
    p.proc.kill("SIGSTOP");
    const t0 = Date.now();
    const pending = generate(d.client, greedyRequest(prompt(300, 2), 4, p.address));
    // The request holds D's reserved blocks while it waits on P: D's load report counts it.
    assert.ok(
      await waitFor(async () => (await d.load()).runningRequests === 1, 600),
      "D's GetLoad counts the request in its KV transfer",
    );
    const r = await pending;
    const took = Date.now() - t0;
    assert.equal(r.error?.code, "kv_transfer_failed", JSON.stringify(r.error));
    assert.match(r.error!.message, /within 800 ms/);
    assert.ok(took >= 700 && took < 5000, `failed after ${took} ms`);
    assert.ok(await idle(d), "D's reservation is released");
    assert.equal(
      metricSum(await d.metrics(), "radixserve_kv_transfer_failures_total", { cause: "transfer_timeout" }),
      1,
    );
    p.proc.kill("SIGCONT");
    assert.ok(await idle(p), "P frees the job of the cancelled stream");
    const again = await generate(d.client, greedyRequest(prompt(50, 3), 3, p.address));
    assert.equal(again.error, null, "both workers serve again");
  });

  test("kill -9 of the prefill worker mid-prefill: D answers kv_transfer_failed and frees every block", async () => {
    const [p, d] = await Promise.all([start("prefill", ["--chunked-prefill-size", "16"]), start("decode")]);
    const pending = generate(d.client, greedyRequest(prompt(1800, 4), 4, p.address));
    assert.ok(await busy(p));
    p.proc.kill("SIGSTOP"); // freeze it mid-transfer so a fast machine cannot finish first
    p.kill9();
    const r = await pending;
    assert.equal(r.error?.code, "kv_transfer_failed", JSON.stringify(r.error));
    assert.ok(await idle(d));
    assert.ok(
      metricSum(await d.metrics(), "radixserve_kv_transfer_failures_total", { cause: "peer_unavailable" }) >=
        1,
    );
  });

  test("kill -9 of the prefill worker mid-transfer over the native tcp data plane: clean error, D back to idle", async () => {
    const [p, d] = await Promise.all([
      start("prefill", ["--chunked-prefill-size", "16"]),
      start("decode", ["--kv-transport", "tcp"]),
    ]);
    const warm = await generate(d.client, greedyRequest(prompt(40, 6), 2, p.address));
    assert.equal(warm.error, null, "a tcp transfer works first");
    const pending = generate(d.client, greedyRequest(prompt(1800, 7), 4, p.address));
    assert.ok(await busy(p));
    p.proc.kill("SIGSTOP");
    p.kill9();
    const r = await pending;
    assert.equal(r.error?.code, "kv_transfer_failed", JSON.stringify(r.error));
    assert.ok(await idle(d), "D's reservation is released");
    const m = await d.metrics();
    assert.ok(
      metricSum(m, "radixserve_kv_transfer_bytes_total", { transport: "tcp" }) > 0,
      "the warm-up used tcp",
    );
  });

  test("kill -9 of the decode worker mid-decode and mid-transfer: the client sees an error, P returns to idle", async () => {
    const p = await start("prefill", ["--chunked-prefill-size", "16"]);
    const d1 = await start("decode");
    let killed = false;
    const r = await generate(d1.client, greedyRequest(prompt(64, 5), 1500, p.address), (n) => {
      if (n === 3 && !killed) {
        killed = true;
        d1.kill9();
      }
    });
    assert.ok(killed, `tokens seen: ${r.tokens.length}, error ${JSON.stringify(r.error)}`);
    assert.match(r.error?.code ?? "", /^grpc_/, "the stream ends with a transport error, not a hang");
    assert.ok(await idle(p), `P idle after D died mid-decode: ${JSON.stringify(await p.load())}`);

    const d2 = await start("decode");
    // D1's KV pool was a memory file (direct shm): nothing of it outlives the kill -9 in /dev/shm.
    const d1Files = readdirSync("/dev/shm").filter((f) => f.includes(`-${d1.proc.pid}-`));
    assert.deepEqual(d1Files, [], "a killed decode worker leaves no file behind");
    const pending = generate(d2.client, greedyRequest(prompt(1800, 6), 4, p.address));
    assert.ok(await busy(p), "P is prefilling when D dies");
    d2.proc.kill("SIGSTOP"); // D stops acking: P cannot finish the transfer before D dies
    d2.kill9();
    const r2 = await pending;
    assert.notEqual(r2.error, null);
    assert.ok(await idle(p), "P stops sending and frees its side");
    assert.ok(
      metricSum(await p.metrics(), "radixserve_kv_transfer_failures_total", { cause: "cancelled" }) >= 1,
    );
  });

  test("the reservation deadline: a request that finds no KV blocks in time gets queue_full; the queue gauge moves", async () => {
    const [p, d] = await Promise.all([
      start("prefill"),
      start("decode", [
        "--kv-cache-blocks",
        "24",
        "--kv-reserve-timeout-ms",
        "500",
        "--kv-transfer-timeout-ms",
        "1500",
      ]),
    ]);
    p.proc.kill("SIGSTOP");
    try {
      // A reserves 19 of 24 blocks and waits on the stalled P; B needs 13 and waits for blocks.
      const a = generate(d.client, greedyRequest(prompt(300, 8), 4, p.address));
      await new Promise((r) => setTimeout(r, 100));
      const b = generate(d.client, greedyRequest(prompt(200, 9), 4, p.address));
      const queued = await waitFor(
        async () => metricSum(await d.metrics(), "radixserve_kv_reservation_queue_size") === 1,
        400,
      );
      assert.ok(queued, "B waits in the reservation queue");
      const rb = await b;
      assert.equal(rb.error?.code, "queue_full", JSON.stringify(rb.error));
      assert.match(rb.error!.message, /reservation deadline/);
      const ra = await a;
      assert.equal(ra.error?.code, "kv_transfer_failed");
      const m = await d.metrics();
      assert.equal(
        metricSum(m, "radixserve_kv_transfer_failures_total", { cause: "reservation_timeout" }),
        1,
      );
      assert.equal(metricSum(m, "radixserve_kv_reservation_queue_size"), 0);
      assert.ok(await idle(d));
    } finally {
      p.proc.kill("SIGCONT");
    }
    assert.ok(await idle(p));
  });
});
