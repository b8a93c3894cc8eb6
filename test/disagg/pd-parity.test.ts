/**
 * Prefill/decode disaggregation with real processes (one unified, one prefill, three decode
 * workers: grpc, shm and tcp transports): token parity with unified, checksummed byte accounting,
 * fewer blocks on a conversation's second turn, conditional (local) prefill, rdma's start-up
 * error, and every pool back to idle at the end.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  defaultModel,
  generate,
  greedyRequest,
  metricSum,
  prompt,
  ROOT,
  startWorker,
  type WorkerProc,
  waitFor,
} from "./pd-harness.js";

const BS = 16;
const BLOCKS = 256;
let model: string;
let u: WorkerProc;
let p: WorkerProc;
let dGrpc: WorkerProc;
let dShm: WorkerProc;
let dTcp: WorkerProc;
let dAuto: WorkerProc;
/** A prefill worker that believes it is on another host (RADIXSERVE_HOST_ID): auto gives it tcp. */
let pFar: WorkerProc;

before(async () => {
  model = await defaultModel();
  const common = ["--model-path", model, "--kv-cache-blocks", String(BLOCKS), "--block-size", String(BS)];
  // Small chunks so a prompt travels in several KV chunks, sent as each prefill chunk completes.
  const dArgs = [
    ...common,
    "--disagg-prefill-threshold",
    "0",
    "--kv-verify-imports",
    "--kv-chunk-bytes",
    "600000",
  ];
  [u, p, dGrpc, dShm, dTcp, dAuto, pFar] = await Promise.all([
    startWorker("unified", common),
    startWorker("prefill", [...common, "--chunked-prefill-size", "64"]),
    startWorker("decode", [...dArgs, "--kv-transport", "grpc"]),
    startWorker("decode", [...dArgs, "--kv-transport", "shm"]),
    startWorker("decode", [...dArgs, "--kv-transport", "tcp"]),
    startWorker("decode", [...dArgs, "--kv-transport", "auto"]),
    startWorker("prefill", [...common, "--chunked-prefill-size", "64"], { RADIXSERVE_HOST_ID: "far-host" }),
  ]);
});

after(async () => {
  await Promise.all([
    u?.stop(),
    p?.stop(),
    dGrpc?.stop(),
    dShm?.stop(),
    dTcp?.stop(),
    dAuto?.stop(),
    pFar?.stop(),
  ]);
});

describe("disaggregated serving (real workers)", () => {
  test("PD output is token-identical to unified for a concurrent batch of greedy prompts (grpc, shm and tcp)", async () => {
    const lengths = [3, 16, 17, 45, 130, 333];
    const prompts = lengths.map((n, i) => prompt(n, 100 + i));
    const unified = await Promise.all(prompts.map((ids) => generate(u.client, greedyRequest(ids, 10))));
    for (const r of unified) assert.equal(r.error, null);
    for (const d of [dGrpc, dShm, dTcp]) {
      const pd = await Promise.all(
        prompts.map((ids) => generate(d.client, greedyRequest(ids, 10, p.address))),
      );
      for (let i = 0; i < prompts.length; i++) {
        assert.equal(pd[i]!.error, null, `prompt ${i}: ${pd[i]!.error?.message}`);
        assert.deepEqual(pd[i]!.tokens, unified[i]!.tokens, `prompt of ${lengths[i]} tokens`);
        assert.equal(pd[i]!.finish, "FINISH_REASON_LENGTH");
      }
    }
  });

  test("auto: a prefill worker on D's host writes into D's pool (shm), one on another host sends over tcp; tokens identical", async () => {
    const prompts = [17, 70, 200].map((n, i) => prompt(n, 300 + i));
    const unified = await Promise.all(prompts.map((ids) => generate(u.client, greedyRequest(ids, 6))));
    const bytes = async (transport: string) =>
      metricSum(await dAuto.metrics(), "radixserve_kv_transfer_bytes_total", { transport });
    for (const [prefill, medium] of [
      [p, "shm"],
      [pFar, "tcp"],
    ] as const) {
      const before = await bytes(medium);
      const pd = await Promise.all(
        prompts.map((ids) => generate(dAuto.client, greedyRequest(ids, 6, prefill.address))),
      );
      for (let i = 0; i < prompts.length; i++) {
        assert.equal(pd[i]!.error, null, `${medium}: ${pd[i]!.error?.message}`);
        assert.deepEqual(pd[i]!.tokens, unified[i]!.tokens, `${medium}, prompt ${i}`);
      }
      assert.ok((await bytes(medium)) > before, `the bytes went over ${medium}`);
    }
    assert.equal(
      metricSum(await dAuto.metrics(), "radixserve_kv_transfer_bytes_total", { transport: "grpc" }),
      0,
    );
    assert.equal(metricSum(await dAuto.metrics(), "radixserve_kv_transfer_failures_total"), 0);
  });

  test("bytes and blocks D imported equal what P exported; checksums verified, shm and tcp used", async () => {
    const pm = await p.metrics();
    const pf = await pFar.metrics();
    const g = await dGrpc.metrics();
    const s = await dShm.metrics();
    const t = await dTcp.metrics();
    const a = await dAuto.metrics();
    // Every decode worker's imports against both prefill workers' exports.
    const both = (name: string) =>
      [g, s, t, a].reduce((sum, m) => sum + metricSum(m, name), 0) -
      metricSum(pm, name) -
      metricSum(pf, name);
    const name = "radixserve_kv_transfer_bytes_total";
    assert.ok(metricSum(g, name) + metricSum(s, name) + metricSum(t, name) > 0);
    assert.equal(both(name), 0);
    const blocks = "radixserve_kv_transfer_blocks_total";
    assert.equal(both(blocks), 0);
    assert.ok(
      metricSum(t, name, { transport: "tcp" }) > 0,
      "the tcp decode worker moved its bytes on its data plane",
    );
    assert.equal(metricSum(t, "radixserve_kv_transfer_failures_total"), 0);
    assert.ok(metricSum(g, name, { transport: "grpc" }) > 0);
    assert.ok(
      metricSum(s, name, { transport: "shm" }) > 0,
      "the shm decode worker moved its bytes through shm",
    );
    assert.equal(metricSum(g, "radixserve_kv_transfer_failures_total"), 0);
    assert.equal(metricSum(s, "radixserve_kv_transfer_failures_total"), 0);
    assert.ok(metricSum(g, "radixserve_kv_transfer_latency_seconds_count") > 0);
  });

  test("shm is direct: P writes into D's KV pool (a memory file, no /dev/shm file); --disable-shm-direct keeps it private", async () => {
    const memfds = (pid: number) =>
      readdirSync(`/proc/${pid}/fd`)
        .map((fd) => {
          try {
            return readlinkSync(`/proc/${pid}/fd/${fd}`);
          } catch {
            return "";
          }
        })
        .filter((l) => l.startsWith("/memfd:radixserve-kvpool-"));
    const shmFiles = (pid: number) => readdirSync("/dev/shm").filter((f) => f.includes(`-${pid}-`));
    const pid = dShm.proc.pid!;
    const links = memfds(pid);
    assert.equal(links.length, 2, `D holds its pool and fence memory files: ${links.join(", ")}`);
    assert.ok(links.some((l) => l.includes(".fence")));
    assert.deepEqual(shmFiles(pid), [], "no per-transfer file was made");
    // P maps D's pool (the shm transfers above went straight into it).
    assert.ok(
      readFileSync(`/proc/${p.proc.pid}/maps`, "utf8").includes(
        links.find((l) => !l.includes(".fence"))!.slice(1),
      ),
      "P maps D's pool memory file",
    );
    const d = await startWorker("decode", [
      "--model-path",
      model,
      "--kv-cache-blocks",
      "64",
      "--disagg-prefill-threshold",
      "0",
      "--kv-transport",
      "shm",
      "--disable-shm-direct",
      "--kv-verify-imports",
    ]);
    const dPid = d.proc.pid!;
    try {
      const ids = prompt(90, 41);
      const r = await generate(d.client, greedyRequest(ids, 4, p.address));
      assert.equal(r.error, null);
      assert.deepEqual(r.tokens, (await generate(u.client, greedyRequest(ids, 4))).tokens);
      assert.deepEqual(memfds(dPid), [], "private pool");
      assert.ok(shmFiles(dPid).length > 0, "the two-copy path's transfer file (pooled for reuse)");
    } finally {
      await d.stop();
    }
    assert.deepEqual(shmFiles(dPid), [], "a stopped decode worker leaves no file in /dev/shm");
  });

  test("a conversation's second turn sends only the blocks D does not hold", async () => {
    const blocks = async () => metricSum(await dGrpc.metrics(), "radixserve_kv_transfer_blocks_total");
    const turn1 = prompt(200, 7);
    const b0 = await blocks();
    const r1 = await generate(dGrpc.client, greedyRequest(turn1, 8, p.address));
    assert.equal(r1.error, null);
    const b1 = await blocks();
    assert.equal(b1 - b0, Math.ceil(200 / BS), "first turn: every prompt block travels");
    // D cached the full blocks of prompt + answer (all but the last token have KV).
    const turn2 = [...turn1, ...r1.tokens, ...prompt(40, 8)];
    const r2 = await generate(dGrpc.client, greedyRequest(turn2, 8, p.address));
    assert.equal(r2.error, null);
    const held = Math.floor((200 + r1.tokens.length - 1) / BS);
    const sent2 = (await blocks()) - b1;
    assert.equal(sent2, Math.ceil(turn2.length / BS) - held);
    assert.ok(sent2 < b1 - b0, `second turn sent ${sent2} blocks, first ${b1 - b0}`);
    assert.ok(r2.cachedTokens >= held * BS);
    const same = await generate(u.client, greedyRequest(turn2, 8));
    assert.deepEqual(r2.tokens, same.tokens);
  });

  test("conditional disaggregation: an uncached part under the threshold is prefilled locally", async () => {
    const d = await startWorker("decode", [
      "--model-path",
      model,
      "--kv-cache-blocks",
      "64",
      "--disagg-prefill-threshold",
      "64",
    ]);
    try {
      const ids = prompt(20, 31);
      const r = await generate(d.client, greedyRequest(ids, 6, p.address));
      assert.equal(r.error, null);
      const ref = await generate(u.client, greedyRequest(ids, 6));
      assert.deepEqual(r.tokens, ref.tokens);
      const m = await d.metrics();
      assert.equal(metricSum(m, "radixserve_local_prefills_total"), 1);
      assert.equal(metricSum(m, "radixserve_kv_transfer_bytes_total"), 0);
      const long = await generate(d.client, greedyRequest(prompt(100, 32), 4, p.address));
      assert.equal(long.error, null);
      assert.equal(metricSum(await d.metrics(), "radixserve_local_prefills_total"), 1);
      assert.ok(metricSum(await d.metrics(), "radixserve_kv_transfer_bytes_total") > 0);
    } finally {
      await d.stop();
    }
  });

  test("--kv-transport rdma fails at start-up with a clear message", () => {
    const r = spawnSync(
      process.execPath,
      [
        join(ROOT, "packages/worker/dist/main.js"),
        "--disagg-mode",
        "decode",
        "--model-path",
        model,
        "--kv-transport",
        "rdma",
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    assert.equal(r.status, 1);
    assert.match(r.stderr, /rdma is not built/);
  });

  test("every pool is back to idle: all blocks free or evictable", async () => {
    for (const w of [p, pFar, dGrpc, dShm, dTcp, dAuto]) {
      const ok = await waitFor(async () => {
        const l = await w.load();
        return l.kvBlocksFree === l.kvBlocksTotal && l.runningRequests === 0;
      }, 3000);
      assert.ok(ok, `${w.address}: ${JSON.stringify(await w.load())}`);
    }
  });
});
