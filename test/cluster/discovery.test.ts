/**
 * Discovery against a real redis-server: join, graceful leave, a worker that stops heart-beating
 * (kill -9), and a Redis restart that must not drop anyone.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { WorkerDiscovery, type WorkerRecord, WorkerRegistrar } from "@radixserve/cluster";
import { setLogLevel } from "@radixserve/core";
import { type Service, startRedis, until } from "./services.js";

setLogLevel(process.env["RADIXSERVE_LOG_LEVEL"] ?? "warn");

const REGISTRANT = fileURLToPath(new URL("./fixtures/registrant.ts", import.meta.url));

/** A separate process that registers `workerId` and heart-beats (so it can really be kill -9'd). */
async function spawnRegistrant(
  redisUrl: string,
  prefix: string,
  workerId: string,
  ttlMs: number,
): Promise<ChildProcess> {
  const p = spawn(
    process.execPath,
    ["--import", "tsx", REGISTRANT, redisUrl, prefix, workerId, String(ttlMs)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  process.once("exit", () => p.kill("SIGKILL"));
  let out = "";
  p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  assert.ok(await until(() => out.includes("READY") || p.exitCode !== null, 15_000), "registrant started");
  assert.equal(p.exitCode, null, "registrant is running");
  return p;
}

function record(port: number): Omit<WorkerRecord, "ttlMs" | "heartbeatAt"> {
  const id = `127.0.0.1:${port}`;
  return {
    workerId: id,
    role: "unified",
    model: "tiny",
    grpcAddress: id,
    tpSize: 1,
    kvCapacityBlocks: 512,
    blockSize: 16,
    version: "0.1.0",
    instanceId: `inst-${port}`,
  };
}

describe("cluster/discovery (real redis-server)", () => {
  let redis: Service;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });

  it("follows join, graceful leave (SIGTERM) and kill -9 of a worker process within its TTL", async () => {
    const disc = new WorkerDiscovery({ redisUrl: redis.url, scanIntervalMs: 100, keyPrefix: "t1" });
    const events: string[] = [];
    disc.on("join", (r: WorkerRecord) => events.push(`join ${r.workerId}`));
    disc.on("leave", (id: string, why: string) => events.push(`leave ${id} ${why}`));
    await disc.start();
    const a = await spawnRegistrant(redis.url, "t1", "127.0.0.1:1", 1000);
    const b = await spawnRegistrant(redis.url, "t1", "127.0.0.1:2", 1000);
    try {
      assert.ok(await until(() => disc.workers().length === 2, 2000), "both joined");
      const r = disc.workers()[0]!;
      assert.equal(r.workerId, "127.0.0.1:1");
      assert.equal(r.kvCapacityBlocks, 512);
      assert.equal(r.ttlMs, 1000);

      // Graceful leave: gone at once (pub/sub), well before the TTL.
      const t0 = Date.now();
      a.kill("SIGTERM");
      await once(a, "exit");
      assert.ok(await until(() => disc.workers().length === 1, 500), "a left at once");
      assert.ok(Date.now() - t0 < 1000, `graceful leave took ${Date.now() - t0} ms`);
      assert.ok(events.includes("leave 127.0.0.1:1 deregistered"));

      // kill -9: the heartbeat stops without a goodbye. Gone within TTL + scan period (+ slack).
      const killedAt = Date.now();
      b.kill("SIGKILL");
      assert.ok(await until(() => disc.workers().length === 0, 3000), "b expired");
      const took = Date.now() - killedAt;
      assert.ok(took <= 1000 + 100 + 400, `expired after ${took} ms`);
      assert.ok(events.includes("leave 127.0.0.1:2 expired"));
    } finally {
      a.kill("SIGKILL");
      b.kill("SIGKILL");
      await disc.stop();
    }
  });

  it("keeps the last known set while Redis is down, and across a restart that lost every key", async () => {
    const disc = new WorkerDiscovery({ redisUrl: redis.url, scanIntervalMs: 100, keyPrefix: "t2" });
    const statuses: boolean[] = [];
    disc.on("status", (up: boolean) => statuses.push(up));
    const left: string[] = [];
    disc.on("leave", (id: string) => left.push(id));
    await disc.start();
    const w = new WorkerRegistrar({ redisUrl: redis.url, record: record(3), ttlMs: 1500, keyPrefix: "t2" });
    try {
      await w.start();
      assert.ok(await until(() => disc.workers().length === 1, 2000));
      await redis.kill();
      assert.ok(await until(() => !disc.redisUp, 2000), "outage noticed");
      await new Promise((r) => setTimeout(r, 2000)); // longer than the TTL
      assert.equal(disc.workers().length, 1, "last known set kept while Redis is down");
      await redis.start(); // empty: the key is gone until the next heartbeat
      assert.ok(await until(() => disc.redisUp, 3000), "reconnected");
      assert.ok(await until(() => w.beats > 1, 3000), "the worker re-registered");
      await new Promise((r) => setTimeout(r, 1700));
      assert.equal(disc.workers().length, 1);
      assert.deepEqual(left, []);
      assert.deepEqual(statuses, [false, true]);
    } finally {
      await w.deregister();
      await disc.stop();
    }
  });
});
