// The native KV data plane: CRC-32C (known vectors, hardware vs table), block export/import through
// shared-memory regions and the native tcp data plane between two engines (bytes and checksums
// equal), and failures (bad ranges, unknown keys, a sender that vanishes mid-transfer).
// One file of ~660 lines: every medium's tests share the two engines, the test model and the
// writer-process helper set up here; split, each file would load its own engines.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import {
  crc32c,
  crc32cCopyStreaming,
  crc32cImpl,
  crc32cTable,
  KvRegion,
  KvTcpConnection,
  KvTcpListener,
  type KvTcpProgress,
  kvSink,
  kvSource,
  loadEngine,
} from "../src/index.js";
import { blocks, maxAbsDiff, openEngine, prefillLogits, scratchDir, testModel, tokens } from "./helpers.js";

describe("kv-transfer CRC-32C", () => {
  it("matches the published check values", () => {
    assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(0)), 0);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // 32 bytes of 0xff
    const inc = Uint8Array.from({ length: 32 }, (_, i) => i);
    assert.equal(crc32c(inc), 0x46dd794e); // 0x00..0x1f
    assert.match(crc32cImpl(), /^(sse4\.2|table)$/);
  });

  it("hardware and table paths agree on every length and alignment, and chaining equals one pass", () => {
    const buf = randomBytes(3 * 8192 * 2 + 4099);
    for (const [start, end] of [
      [0, buf.length],
      [1, 24577],
      [3, 3 * 256 + 7],
      [7, 8],
      [5, 5],
      [13, 3 * 8192 * 2 + 11],
    ] as const) {
      const part = buf.subarray(start, end);
      assert.equal(crc32c(part), crc32cTable(part), `[${start}, ${end})`);
      const mid = start + Math.floor((end - start) / 3);
      assert.equal(crc32c(buf.subarray(mid, end), crc32c(buf.subarray(start, mid))), crc32c(part));
    }
    const flipped = Buffer.from(buf);
    flipped[12345]! ^= 1;
    assert.notEqual(crc32c(flipped), crc32c(buf));
  });

  it("the one-pass streaming copy copies exactly and returns the bytes' CRC (every lane size, tail, alignment)", () => {
    const buf = randomBytes(3 * 8192 * 3 + 3 * 256 * 2 + 777);
    const target = new Uint8Array(buf.length + 64);
    // Lengths cover the long lanes, the short lanes and the tail; offsets 16-aligned and not (the
    // unaligned target takes the checksum-then-copy path).
    for (const [srcOff, dstOff, len] of [
      [0, 0, buf.length],
      [3, 16, 3 * 8192 * 2],
      [5, 32, 3 * 256 + 64],
      [0, 0, 767],
      [1, 7, 3 * 8192 + 100],
      [0, 48, 0],
    ] as const) {
      const src = buf.subarray(srcOff, srcOff + len);
      const dst = target.subarray(dstOff, dstOff + len);
      dst.fill(0xaa);
      assert.equal(
        crc32cCopyStreaming(dst, src),
        crc32c(src),
        `src +${srcOff}, dst +${dstOff}, ${len} bytes`,
      );
      assert.ok(Buffer.from(dst).equals(src));
    }
    assert.throws(() => crc32cCopyStreaming(new Uint8Array(3), new Uint8Array(4)), /one length/);
  });
});

describe("kv-transfer shm regions", () => {
  it("moves blocks between two engines through a /dev/shm-style mapping; bytes and CRCs equal", async () => {
    const src = await openEngine("tiny-gqa");
    const dst = await openEngine("tiny-gqa");
    const bpb = src.info.bytesPerBlock;
    await prefillLogits(src, tokens(45, 3), blocks(0, 3));
    await prefillLogits(dst, tokens(48, 77), Int32Array.from([9, 4, 6])); // other data first
    const path = join(scratchDir("shm"), "kv-file");
    const d = KvRegion.openShm(path, 4 * bpb, true);
    const p = KvRegion.openShm(path, 0, false); // the sender maps the same file by path
    assert.equal(p.size, 4 * bpb);
    const sent = await src.exportBlocks(blocks(0, 3), kvSink.memory(p, bpb)); // at offset one block in
    const reference = await src.exportBlocks(blocks(0, 3));
    assert.equal(sent, crc32c(reference));
    assert.deepEqual(d.read(bpb, 3 * bpb), reference); // what P wrote is what D sees
    const got = await dst.importBlocks(Int32Array.from([9, 4, 6]), kvSource.memory(d, bpb));
    assert.equal(got, sent);
    assert.deepEqual(await dst.exportBlocks(Int32Array.from([9, 4, 6])), reference);
    // Buffers work too, and the CRC of an import equals the CRC of the bytes.
    const buf = Buffer.alloc(3 * bpb);
    assert.equal(await src.exportBlocks(blocks(0, 3), kvSink.memory(buf, 0)), sent);
    assert.equal(await dst.importBlocks(Int32Array.from([1, 2, 3]), kvSource.memory(buf, 0)), crc32c(buf));
    p.close();
    d.close();
    rmSync(path);
  });

  it("refuses ranges outside the region, closed regions, existing files and bad ids", async () => {
    const e = await openEngine();
    const bpb = e.info.bytesPerBlock;
    const dir = scratchDir("shm-bad");
    const path = join(dir, "f");
    const r = KvRegion.openShm(path, 2 * bpb, true);
    await assert.rejects(
      e.exportBlocks(blocks(0, 2), kvSink.memory(r, 1)),
      /does not fit the .*-byte region/,
    );
    await assert.rejects(e.importBlocks(Int32Array.from([0, 99]), kvSource.memory(r, 0)), /99/);
    assert.throws(() => KvRegion.openShm(path, 2 * bpb, true), /File exists/); // never reuses a file
    assert.throws(() => KvRegion.openShm(join(dir, "missing"), 0, false), /No such file/);
    assert.throws(() => r.read(2 * bpb - 1, 2), /outside/);
    r.close();
    r.close(); // idempotent
    await assert.rejects(e.importBlocks(blocks(0, 1), kvSource.memory(r, 0)), /closed/);
    assert.ok(existsSync(path));
  });

  it("closing a region under a queued export fails that export cleanly (no use after unmap)", async () => {
    const e = await openEngine();
    const path = join(scratchDir("shm-close"), "f");
    const r = KvRegion.openShm(path, 8 * e.info.bytesPerBlock, true);
    const pending = e.exportBlocks(blocks(0, 8), kvSink.memory(r, 0));
    r.close();
    await assert.rejects(pending, /KV region has been closed/);
  });
});

/**
 * A writer process P: loads an engine `e` on `model` (32 blocks), runs `body` (which may use `e`
 * KvRegion and kvSink, and prints "writing" once it writes), and resolves once it said so.
 */
async function startPoolWriter(name: string, model: string, body: string): Promise<ChildProcess> {
  const script = join(scratchDir(name), "writer.mjs");
  const index = pathToFileURL(join(import.meta.dirname, "..", "dist", "index.js")).href;
  writeFileSync(
    script,
    `const { loadEngine, KvRegion, kvSink } = await import(${JSON.stringify(index)});
const e = await loadEngine({ modelPath: ${JSON.stringify(model)}, kvCacheBlocks: 32, threads: 1 });
${body}
`,
  );
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => d.toString().includes("writing") && resolve());
    child.once("exit", (code) => reject(new Error(`writer exited early (${code})`)));
  });
  return child;
}

describe("kv-transfer direct shm path (a KV pool in shared memory)", () => {
  const poolPath = (name: string) => `/dev/shm/radixserve-test-pool-${process.pid}-${name}`;
  // free() releases native memory once the engine's queued calls settle (a microtask when idle).
  const freed = () => new Promise((r) => setImmediate(r));

  it("P writes straight into D's reserved blocks of D's pool file; bytes and CRCs equal; mode 0600; removed at free", async () => {
    const src = await openEngine("tiny-gqa");
    const path = poolPath("direct");
    const dst = await loadEngine({
      modelPath: await testModel("tiny-gqa"),
      kvCacheBlocks: 16,
      threads: 1,
      kvPoolShmPath: path,
    });
    try {
      assert.equal(statSync(path).mode & 0o777, 0o600);
      assert.equal(statSync(path).size, 16 * dst.info.bytesPerBlock);
      await prefillLogits(src, tokens(45, 5), blocks(0, 3));
      await prefillLogits(dst, tokens(48, 78), Int32Array.from([2, 3, 4])); // D's own data beside
      const before = await dst.exportBlocks(Int32Array.from([2, 3, 4]));
      const pool = KvRegion.openShm(path, 0, false); // P maps D's pool by path
      const reserved = Int32Array.from([11, 7, 13]); // out of order on purpose
      const sent = await src.exportBlocks(blocks(0, 3), kvSink.pool(pool, reserved));
      const reference = await src.exportBlocks(blocks(0, 3));
      assert.equal(sent, crc32c(reference));
      assert.deepEqual(await dst.exportBlocks(reserved), reference); // D sees P's bytes, in its blocks
      assert.equal(await dst.crcBlocks(reserved), sent); // D's readback check
      assert.deepEqual(await dst.exportBlocks(Int32Array.from([2, 3, 4])), before); // nothing else touched
      // D decodes from the blocks P wrote as P would from its own (one more token at position 45).
      const next = (e: typeof src, table: Int32Array) =>
        e.step([
          {
            tokens: Int32Array.from([7]),
            startPos: 45,
            blockTable: table,
            sample: false,
            returnLogits: "last",
          },
        ]);
      const [onD] = await next(dst, reserved);
      const [onP] = await next(src, blocks(0, 3));
      assert.ok(maxAbsDiff(onD!.logits!, onP!.logits!) < 1e-4);
      // Ids outside D's pool are refused before anything is written.
      await assert.rejects(
        src.exportBlocks(blocks(0, 1), kvSink.pool(pool, Int32Array.from([16]))),
        /target block id 16 is outside the 16-block pool file/,
      );
      await assert.rejects(src.exportBlocks(blocks(0, 2), kvSink.pool(pool, Int32Array.from([1]))), /dstIds/);
      pool.close();
    } finally {
      dst.free();
    }
    await freed();
    assert.equal(existsSync(path), false); // the pool file goes with the engine
  });

  it("a memfd pool: sparse until written, mapped by name at info.kvPoolPath, a wrong name refused, gone at free", async () => {
    const name = `radixserve-test-pool-${process.pid}-memfd`;
    const shmemKb = () =>
      Number(/RssShmem:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
    const before = shmemKb();
    const src = await openEngine("tiny-gqa");
    const dst = await loadEngine({
      modelPath: await testModel("tiny-gqa"),
      kvCacheBlocks: 4096,
      threads: 1,
      kvPoolShmPath: `memfd:${name}`,
    });
    const path = dst.info.kvPoolPath!;
    try {
      assert.match(path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
      assert.equal(readlinkSync(path), `/memfd:${name} (deleted)`);
      const poolBytes = 4096 * dst.info.bytesPerBlock;
      assert.ok(shmemKb() - before < poolBytes / 1024 / 8, "the pool is not committed up front");
      assert.throws(
        () => KvRegion.openShm(path, 0, false, "another-name"),
        /is not the memory file another-name/,
      );
      const pool = KvRegion.openShm(path, 0, false, name); // what P does
      assert.equal(pool.size, poolBytes);
      await prefillLogits(src, tokens(40, 9), blocks(0, 3));
      const reserved = Int32Array.from([4000, 17, 2]);
      const crc = await src.exportBlocks(blocks(0, 3), kvSink.pool(pool, reserved));
      assert.deepEqual(await dst.exportBlocks(reserved), await src.exportBlocks(blocks(0, 3)));
      assert.equal(await dst.crcBlocks(reserved), crc);
      pool.close();
    } finally {
      dst.free();
    }
    await freed();
    assert.throws(() => readlinkSync(path), "the descriptor went with the engine");
  });

  it("refuses an existing pool file (a stale one must be swept) and tp > 1, with clear errors", async () => {
    const path = poolPath("stale");
    writeFileSync(path, "stale");
    try {
      await assert.rejects(
        loadEngine({ modelPath: await testModel(), kvCacheBlocks: 4, threads: 1, kvPoolShmPath: path }),
        (e: Error) => {
          assert.match(e.message, /cannot create the shared KV pool file .*File exists/);
          assert.equal(
            (e as { code?: string }).code,
            "kv_pool_shared_failed",
            "a typed error the worker tests",
          );
          return true;
        },
      );
      assert.equal(readFileSync(path, "utf8"), "stale"); // not ours: left alone
    } finally {
      rmSync(path, { force: true });
    }
    await assert.rejects(
      loadEngine({
        modelPath: await testModel("tiny-gqa"),
        kvCacheBlocks: 4,
        threads: 2,
        tpSize: 2,
        kvPoolShmPath: poolPath("tp"),
      }),
      /needs backend 'cpu' and tp size 1/,
    );
    assert.equal(existsSync(poolPath("tp")), false);
  });

  it("P killed -9 mid-write leaves D's engine working; D frees and the file is gone", async () => {
    const path = poolPath("killed");
    const model = await testModel();
    const dst = await loadEngine({ modelPath: model, kvCacheBlocks: 32, threads: 1, kvPoolShmPath: path });
    const child = await startPoolWriter(
      "shm-writer",
      model,
      `const pool = KvRegion.openShm(${JSON.stringify(path)}, 0, false);
const src = Int32Array.from({ length: 32 }, (_, i) => i);
await e.exportBlocks(src, kvSink.pool(pool, src));
process.stdout.write("writing\\n");
for (;;) await e.exportBlocks(src, kvSink.pool(pool, src));`,
    );
    try {
      await new Promise((r) => setTimeout(r, 30)); // mid-write
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
      // D's pool still serves: every block reads and checksums.
      const all = blocks(0, 32);
      assert.equal(await dst.crcBlocks(all), crc32c(await dst.exportBlocks(all)));
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      dst.free();
    }
    await freed();
    assert.equal(existsSync(path), false);
  });
});

describe("kv-transfer fence (D's write permission for a direct transfer)", () => {
  const freed = () => new Promise((r) => setImmediate(r));

  it("P writes only while D's slot grants its generation; a revoked or stale generation writes nothing", async () => {
    const model = await testModel();
    const path = `/dev/shm/radixserve-test-pool-${process.pid}-fence`;
    const fencePath = `${path}.fence`;
    const src = await openEngine();
    const dst = await loadEngine({ modelPath: model, kvCacheBlocks: 8, threads: 1, kvPoolShmPath: path });
    const fenceD = KvRegion.openShm(fencePath, 64 * 16, true);
    try {
      await prefillLogits(src, tokens(40, 3), blocks(0, 3));
      const pool = KvRegion.openShm(path, 0, false);
      const fenceP = KvRegion.openShm(fencePath, 0, false);
      const target = Int32Array.from([5, 6, 7]);
      const grant = { region: fenceP, slot: 9, generation: 7 };
      // Never opened: the slot grants nothing.
      await assert.rejects(src.exportBlocks(blocks(0, 3), kvSink.pool(pool, target, grant)), /revoked/);
      fenceD.fenceOpen(9, 7);
      const crc = await src.exportBlocks(blocks(0, 3), kvSink.pool(pool, target, grant));
      assert.equal(crc, crc32c(await src.exportBlocks(blocks(0, 3))));
      assert.equal(await dst.crcBlocks(target), crc);
      assert.equal(fenceD.fenceRevoke(9, 7), 0, "no write in progress: revoked at once");
      const marker = randomBytes(3 * dst.info.bytesPerBlock);
      await dst.importBlocks(target, marker); // D reuses the blocks
      await assert.rejects(
        src.exportBlocks(blocks(0, 3), kvSink.pool(pool, target, grant)),
        /decode worker revoked this transfer .*nothing was written/,
      );
      assert.deepEqual(await dst.exportBlocks(target), marker, "the revoked writer wrote nothing");
      fenceD.fenceOpen(9, 8); // the slot's next transfer
      await assert.rejects(
        src.exportBlocks(blocks(0, 1), kvSink.pool(pool, target.subarray(0, 1), grant)),
        /revoked/,
      );
      await src.exportBlocks(
        blocks(0, 1),
        kvSink.pool(pool, target.subarray(0, 1), { ...grant, generation: 8 }),
      );
      assert.equal(fenceD.fenceRevoke(9, 7), 0, "revoking an old generation is a no-op");
      assert.throws(() => fenceD.fenceOpen(64, 1), /fence slot 64 is outside the 1024-byte fence file/);
      pool.close();
      fenceP.close();
    } finally {
      fenceD.close();
      rmSync(fencePath, { force: true });
      dst.free();
    }
    await freed();
  });

  it("a revoke during a copy names the writer; blocks are safe once the revoke succeeds", async () => {
    const model = await testModel();
    const path = `/dev/shm/radixserve-test-pool-${process.pid}-fence-race`;
    const fencePath = `${path}.fence`;
    const dst = await loadEngine({ modelPath: model, kvCacheBlocks: 32, threads: 1, kvPoolShmPath: path });
    const fence = KvRegion.openShm(fencePath, 16 * 16, true);
    fence.fenceOpen(2, 1);
    // The writer exports all 32 blocks (~7 MB, about a millisecond) in a loop under slot 2; when
    // its generation is revoked it moves on to the next one, which D grants by reopening the slot.
    const child = await startPoolWriter(
      "fence-writer",
      model,
      `const pool = KvRegion.openShm(${JSON.stringify(path)}, 0, false);
const fence = KvRegion.openShm(${JSON.stringify(fencePath)}, 0, false);
const ids = Int32Array.from({ length: 32 }, (_, i) => i);
let told = false;
for (let g = 1; ; ) {
  try {
    await e.exportBlocks(ids, kvSink.pool(pool, ids, { region: fence, slot: 2, generation: g }));
    if (!told) { told = true; process.stdout.write("writing\\n"); }
  } catch (err) {
    if (!/revoked/.test(err.message)) throw err;
    g++; // D moved the slot on: try the next generation
    await new Promise((r) => setTimeout(r, 1));
  }
}`,
    );
    try {
      // Revoke generation after generation until one revoke lands in the middle of a copy.
      let seenWriter = 0;
      for (let g = 1; g <= 500 && seenWriter === 0; g++) {
        if (g > 1) {
          fence.fenceOpen(2, g);
          await new Promise((r) => setTimeout(r, 3)); // let the writer take it
        }
        let w = fence.fenceRevoke(2, g);
        if (w !== 0) seenWriter = w;
        while (w !== 0) w = fence.fenceRevoke(2, g); // the copy ends; then the revoke succeeds
      }
      assert.equal(seenWriter, child.pid, "the revoke saw the writer's pid mid-copy");
      // Revoked: whatever D puts in the blocks now stays, while the writer keeps trying.
      const marker = randomBytes(32 * dst.info.bytesPerBlock);
      await dst.importBlocks(blocks(0, 32), marker);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(await dst.exportBlocks(blocks(0, 32)), marker);
    } finally {
      child.kill("SIGKILL");
      fence.close();
      rmSync(fencePath, { force: true });
      dst.free();
    }
    await freed();
  });
});

/** A listener whose progress reports are collected per key. */
function collectingListener(): {
  listener: KvTcpListener;
  reports: KvTcpProgress[];
  next: () => Promise<KvTcpProgress>;
} {
  const reports: KvTcpProgress[] = [];
  let wake: (() => void) | null = null;
  const listener = KvTcpListener.listen("127.0.0.1", (p) => {
    reports.push(p);
    wake?.();
  });
  let read = 0;
  const next = async (): Promise<KvTcpProgress> => {
    while (read >= reports.length) await new Promise<void>((r) => (wake = r));
    return reports[read++]!;
  };
  return { listener, reports, next };
}

describe("kv-transfer native tcp", () => {
  it("sends blocks from one engine into another's receive region; bytes and CRCs equal", async () => {
    const src = await openEngine("tiny-gqa");
    const dst = await openEngine("tiny-gqa");
    const bpb = src.info.bytesPerBlock;
    await prefillLogits(src, tokens(40, 8), blocks(0, 3));
    const { listener, next } = collectingListener();
    try {
      const key = randomBytes(16).toString("hex");
      const region = KvRegion.alloc(4 * bpb); // larger than the transfer: regions are reused
      listener.expect(key, region, 3 * bpb);
      const conn = await KvTcpConnection.connect("127.0.0.1", listener.port, key, 2000);
      const staging = KvRegion.alloc(2 * bpb);
      // Two frames: blocks [0, 2) then [2, 3), as two chunks of a transfer.
      const c1 = await src.exportBlocks(blocks(0, 2), kvSink.memory(staging, 0));
      await conn.sendFrame(staging, 0, 2 * bpb, 0, c1);
      const c2 = await src.exportBlocks(blocks(2, 1), kvSink.memory(staging, 0));
      await conn.sendFrame(staging, 0, bpb, 2 * bpb, c2);
      const f1 = await next();
      const f2 = await next();
      assert.deepEqual([f1.frameOffset, f1.frameLength, f1.frameCrc, f1.error], [0, 2 * bpb, c1, ""]);
      assert.deepEqual([f2.frameOffset, f2.frameLength, f2.frameCrc, f2.error], [2 * bpb, bpb, c2, ""]);
      assert.equal(await dst.importBlocks(Int32Array.from([5, 6]), kvSource.memory(region, 0)), c1);
      assert.equal(await dst.importBlocks(Int32Array.from([7]), kvSource.memory(region, 2 * bpb)), c2);
      assert.deepEqual(
        await dst.exportBlocks(Int32Array.from([5, 6, 7])),
        await src.exportBlocks(blocks(0, 3)),
      );
      conn.close();
      staging.close();
      region.close();
      listener.cancel(key);
    } finally {
      listener.close();
    }
  });

  it("sends straight from one pool into the other's reserved blocks (a tcp sink / expectBlocksFrom)", async () => {
    const src = await openEngine("tiny-gqa");
    const dst = await openEngine("tiny-gqa");
    const bpb = src.info.bytesPerBlock;
    await prefillLogits(src, tokens(40, 9), blocks(0, 3));
    await prefillLogits(dst, tokens(48, 5), Int32Array.from([11, 12, 13])); // other data first
    const { listener, next } = collectingListener();
    try {
      const key = randomBytes(16).toString("hex");
      assert.equal(dst.expectBlocksFrom(listener, key, Int32Array.from([13, 11, 12])), true);
      const conn = await KvTcpConnection.connect("127.0.0.1", listener.port, key, 2000);
      const c1 = await src.exportBlocks(blocks(0, 2), kvSink.tcp(conn, 0));
      const c2 = await src.exportBlocks(blocks(2, 1), kvSink.tcp(conn, 2 * bpb));
      assert.equal(c1, crc32c(await src.exportBlocks(blocks(0, 2))));
      assert.equal(c2, crc32c(await src.exportBlocks(blocks(2, 1))));
      assert.equal((await next()).frameCrc, c1); // checksummed by D's thread as the bytes landed
      assert.equal((await next()).frameCrc, c2);
      assert.deepEqual(
        await dst.exportBlocks(Int32Array.from([13, 11, 12])),
        await src.exportBlocks(blocks(0, 3)),
      );
      conn.close();
      listener.cancel(key);
      await assert.rejects(src.exportBlocks(blocks(0, 1), kvSink.tcp(conn, 0)), /connection is closed/);
    } finally {
      listener.close();
    }
  });

  it("queues a host pool's frames on the connection: calls need not wait, frames go in call order", async () => {
    const src = await openEngine("tiny-gqa");
    const dst = await openEngine("tiny-gqa");
    const bpb = src.info.bytesPerBlock;
    await prefillLogits(src, tokens(40, 9), blocks(0, 3));
    const want = await src.exportBlocks(blocks(0, 3));
    const { listener, next } = collectingListener();
    try {
      const key = randomBytes(16).toString("hex");
      assert.equal(dst.expectBlocksFrom(listener, key, Int32Array.from([13, 11, 12])), true);
      const conn = await KvTcpConnection.connect("127.0.0.1", listener.port, key, 2000);
      const sends = [0, 1, 2].map((i) => src.exportBlocks(blocks(i, 1), kvSink.tcp(conn, i * bpb)));
      // Not queued behind the frames: an engine call runs beside them.
      const step = prefillLogits(src, tokens(8, 3), Int32Array.from([20]));
      src.free(); // after the step (queued); the pool stays until the queued frames are written
      const crcs = await Promise.all(sends);
      await step;
      for (let i = 0; i < 3; i++) {
        assert.equal(crcs[i], crc32c(want.subarray(i * bpb, (i + 1) * bpb)));
        const f = await next();
        assert.deepEqual([f.frameOffset, f.frameLength, f.frameCrc, f.error], [i * bpb, bpb, crcs[i], ""]);
      }
      assert.deepEqual(await dst.exportBlocks(Int32Array.from([13, 11, 12])), want);
      conn.close();
      listener.cancel(key);
    } finally {
      listener.close();
    }
  });

  it("a queued frame that fails fails the frames queued after it", async () => {
    const src = await openEngine("tiny-gqa");
    const { listener } = collectingListener();
    try {
      // No transfer under this key: D's thread reads the key and closes the connection.
      const conn = await KvTcpConnection.connect(
        "127.0.0.1",
        listener.port,
        randomBytes(16).toString("hex"),
        2000,
      );
      const all = blocks(0, src.info.numBlocks);
      const bytes = all.length * src.info.bytesPerBlock;
      const sends = Array.from({ length: 64 }, (_, i) => src.exportBlocks(all, kvSink.tcp(conn, i * bytes)));
      const settled = await Promise.allSettled(sends);
      const first = settled.findIndex((r) => r.status === "rejected");
      assert.ok(first >= 0, "sending into a closed connection fails");
      for (const r of settled.slice(first)) {
        assert.equal(r.status, "rejected");
        assert.match(
          String((r as PromiseRejectedResult).reason),
          /tcp data plane|sending to the receiver failed/,
        );
      }
      conn.close();
    } finally {
      listener.close();
    }
  });

  it("an engine freed while a transfer into its blocks is registered is freed when the transfer ends", async () => {
    const dst = await loadEngine({ modelPath: await testModel(), kvCacheBlocks: 8, threads: 1 });
    const { listener } = collectingListener();
    try {
      const key = randomBytes(16).toString("hex");
      assert.equal(dst.expectBlocksFrom(listener, key, blocks(0, 2)), true);
      const conn = await KvTcpConnection.connect("127.0.0.1", listener.port, key, 2000);
      dst.free(); // deferred natively: the connection thread may still write into the pool
      await new Promise((r) => setTimeout(r, 20));
      listener.cancel(key); // the last hold goes: the engine is freed now
      conn.close();
      assert.throws(() => dst.expectBlocksFrom(listener, key, blocks(0, 1)), /freed/);
    } finally {
      listener.close();
    }
  });

  it("a sender that goes away mid-transfer is reported with a clear error; the receiver is freed", async () => {
    const { listener, next } = collectingListener();
    try {
      const key = randomBytes(16).toString("hex");
      const region = KvRegion.alloc(1 << 20);
      listener.expect(key, region, 1 << 20);
      const conn = await KvTcpConnection.connect("127.0.0.1", listener.port, key, 2000);
      const staging = KvRegion.alloc(4096);
      const zeros = crc32c(new Uint8Array(4096));
      await conn.sendFrame(staging, 0, 4096, 0, zeros);
      assert.deepEqual(await next(), { key, frameOffset: 0, frameLength: 4096, frameCrc: zeros, error: "" });
      conn.close(); // P dies after one frame of a 1 MiB transfer
      const end = await next();
      assert.match(end.error, /closed by the sender after 4096 of 1048576 bytes/);
      region.close();
      staging.close();
      listener.cancel(key);
    } finally {
      listener.close();
    }
  });

  it("a frame whose bytes do not match its CRC-32C trailer ends the transfer with a clear error", async () => {
    const { listener, next } = collectingListener();
    try {
      const key = randomBytes(16).toString("hex");
      const region = KvRegion.alloc(8192);
      listener.expect(key, region, 8192);
      const conn = await KvTcpConnection.connect("127.0.0.1", listener.port, key, 2000);
      const staging = KvRegion.alloc(4096);
      await conn.sendFrame(staging, 0, 4096, 0, 12345);
      const end = await next();
      assert.equal(end.frameLength, 0);
      assert.match(end.error, /tcp frame at 0: CRC-32C \d+ of the bytes received, 12345 sent/);
      conn.close();
      staging.close();
      region.close();
      listener.cancel(key);
    } finally {
      listener.close();
    }
  });

  it("a receiver that goes away makes the sender fail; unknown keys and dead ports fail to connect or send", async () => {
    const { listener } = collectingListener();
    const key = randomBytes(16).toString("hex");
    const region = KvRegion.alloc(64 << 20);
    listener.expect(key, region, 64 << 20);
    const conn = await KvTcpConnection.connect("127.0.0.1", listener.port, key, 2000);
    const staging = KvRegion.alloc(8 << 20);
    await conn.sendFrame(staging, 0, 8 << 20, 0, 0);
    listener.cancel(key); // D gave up (deadline): the connection is cut
    await assert.rejects(
      (async () => {
        for (let i = 1; i < 8; i++) await conn.sendFrame(staging, 0, 8 << 20, i * (8 << 20), 0);
      })(),
      /sending to the receiver failed/,
    );
    conn.close();
    region.close();
    // A key nobody expects: the listener drops the connection, the first big send fails.
    const stranger = await KvTcpConnection.connect(
      "127.0.0.1",
      listener.port,
      randomBytes(16).toString("hex"),
      2000,
    );
    await assert.rejects(
      (async () => {
        for (let i = 0; i < 8; i++) await stranger.sendFrame(staging, 0, 8 << 20, i * (8 << 20), 0);
      })(),
      /sending to the receiver failed/,
    );
    stranger.close();
    const port = listener.port;
    listener.close();
    await assert.rejects(
      KvTcpConnection.connect("127.0.0.1", port, randomBytes(16).toString("hex"), 1000),
      /cannot connect to 127\.0\.0\.1:\d+: Connection refused/,
    );
    await assert.rejects(KvTcpConnection.connect("127.0.0.1", port, "nothex", 1000), /32 hex digits/);
    staging.close();
  });
});
