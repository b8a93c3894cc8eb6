// The native fast paths of the shm and tcp KvTransports between two real engines: P's sendBlocks
// exports straight from its pool into the medium, D's receiveBlocks imports straight into reserved
// blocks; bytes and CRC-32Cs must match. Failures: P vanishing mid-transfer gives D a clear error,
// and closing the receiver releases everything (file unlinked, listener entry gone).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { makeModel } from "@radixserve/core";
import { crc32c, type Engine, loadEngine } from "@radixserve/engine-native";
import { AutoKvTransport } from "../src/auto-transport.js";
import type { KvBlockSource, KvSender } from "../src/kv-transport.js";
import { createKvTransport, senderForOffer } from "../src/registry.js";
import { ShmKvTransport } from "../src/shm-transport.js";
import { TcpKvTransport } from "../src/tcp-transport.js";

const ids = (first: number, n: number) => Int32Array.from({ length: n }, (_, i) => first + i);

describe("KvTransport native paths between two engines", () => {
  const dir = mkdtempSync(join(tmpdir(), "kv-native-"));
  let p: Engine;
  let d: Engine;
  before(async () => {
    const model = await makeModel({ preset: "tiny", out: join(dir, "model") });
    p = await loadEngine({ modelPath: model, kvCacheBlocks: 16, threads: 1 });
    d = await loadEngine({ modelPath: model, kvCacheBlocks: 16, threads: 1 });
    // A pattern in P's blocks 0..7 (prefill would do; a pattern is faster and as distinctive).
    const b = Buffer.alloc(8 * p.info.bytesPerBlock);
    for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((i * 2654435761) >>> 0, i);
    await p.importBlocks(ids(0, 8), b);
  });
  after(() => {
    p.free();
    d.free();
    rmSync(dir, { recursive: true, force: true });
  });

  const transports = {
    shm: () => new ShmKvTransport({ dir }),
    tcp: () => new TcpKvTransport(),
  };
  for (const [name, make] of Object.entries(transports)) {
    test(`${name}: sendBlocks -> receiveBlocks moves blocks exactly; CRCs equal the bytes'`, async () => {
      const bpb = p.info.bytesPerBlock;
      const t = make();
      await t.init();
      const r = await t.openReceiver("req", 8 * bpb);
      const s = await t.openSender(r.offer); // the transport P's senderForOffer would pick
      assert.equal(s.name, name);
      assert.ok(s.sendBlocks && r.receiveBlocks, "the native paths exist");
      const chunks = [ids(0, 3), ids(3, 4), ids(7, 1)];
      let offset = 0;
      const sent = [];
      for (const c of chunks) {
        sent.push(await s.sendBlocks(p, c, offset));
        offset += c.length * bpb;
      }
      let first = 8;
      for (const [i, c] of chunks.entries()) {
        const got = await r.receiveBlocks(d, ids(first, c.length), sent[i]!.payload);
        assert.equal(got, sent[i]!.crc);
        assert.equal(got, crc32c(await p.exportBlocks(c)));
        first += c.length;
      }
      assert.deepEqual(await d.exportBlocks(ids(8, 8)), await p.exportBlocks(ids(0, 8)));
      s.close();
      r.close();
      if (name === "shm") assert.ok(!existsSync(r.offer.shmPath!), "the shm file is unlinked on close");
      if (t instanceof TcpKvTransport) t.close();
    });
  }

  test("shm direct: P's engine writes straight into D's reserved blocks of D's pool; a closed transfer writes nothing more", async () => {
    const model = join(dir, "model");
    const t = new ShmKvTransport({ dir });
    const spec = t.poolSpec();
    const dd = await loadEngine({ modelPath: model, kvCacheBlocks: 16, threads: 1, kvPoolShmPath: spec });
    try {
      t.attachPool(spec, dd.info.kvPoolPath!, dd.info.numBlocks, dd.info.bytesPerBlock);
      const bpb = p.info.bytesPerBlock;
      const reserved = Int32Array.from([9, 4, 12, 5, 2]);
      const r = await t.openReceiver("req", reserved.length * bpb, { pool: dd, blockIds: reserved });
      assert.ok(r.offer.shmPoolPath && !r.offer.shmPath, "the offer names D's pool, not a transfer file");
      assert.ok(r.chunkBytes! > 32 * 1024 * 1024, "direct transfers ask for large chunks");
      // A tp > 1 engine cannot write D's layout: it is given inline bytes up front.
      const tp2 = { info: { ...p.info, tpSize: 2 }, exportBlocks: p.exportBlocks.bind(p) } as KvBlockSource;
      assert.equal((await senderForOffer(r.offer, tp2)).name, "grpc");
      const s = await senderForOffer(r.offer, p);
      assert.equal(s.name, "shm");
      const src = p;
      const a = await s.sendBlocks!(src, ids(0, 2), 0);
      const b = await s.sendBlocks!(src, ids(2, 3), 2 * bpb);
      assert.equal(a.payload.data.byteLength, 0, "no bytes ride the stream");
      const sink = dd;
      assert.equal(
        await r.receiveBlocks!(sink, reserved.subarray(0, 2), { ...a.payload, crc32: a.crc }),
        a.crc,
      );
      assert.equal(await r.receiveBlocks!(sink, reserved.subarray(2), { ...b.payload, crc32: b.crc }), b.crc);
      // A chunk that names other blocks than D reserved at its offset is refused.
      await assert.rejects(
        r.receiveBlocks!(sink, Int32Array.from([4, 9]), { ...a.payload, crc32: a.crc }),
        /does not match the reserved blocks/,
      );
      assert.deepEqual(await dd.exportBlocks(reserved), await p.exportBlocks(ids(0, 5)));
      await r.quiesce!();
      r.close();
      // The transfer is over: a late export of it (a P that kept going) is refused, writing nothing.
      const before = await dd.exportBlocks(reserved);
      const late = await senderForOffer(r.offer, p);
      await assert.rejects(late.sendBlocks!(src, ids(8, 1), 0), /revoked/);
      assert.deepEqual(await dd.exportBlocks(reserved), before);
      late.close();
      s.close();
    } finally {
      t.close();
      dd.free();
    }
  });

  test("shm direct: P drops its mapping of a decode worker's pool once that worker's pool is gone (memory back)", async () => {
    const d2 = new ShmKvTransport({ dir });
    const spec = d2.poolSpec();
    const dd = await loadEngine({
      modelPath: join(dir, "model"),
      kvCacheBlocks: 8,
      threads: 1,
      kvPoolShmPath: spec,
    });
    d2.attachPool(spec, dd.info.kvPoolPath!, dd.info.numBlocks, dd.info.bytesPerBlock);
    const pSide = new ShmKvTransport({ dir, pruneMs: 20 });
    try {
      const r = await d2.openReceiver("req", 2 * dd.info.bytesPerBlock, {
        pool: dd,
        blockIds: Int32Array.from([1, 2]),
      });
      const s = await pSide.openSender(r.offer, p);
      assert.equal(s.name, "shm");
      assert.equal(pSide.mappedFiles, 2, "D's pool and fence");
      s.close();
      r.close();
      d2.close(); // D stops: its fence file goes ...
      dd.free(); // ... and its pool
      await new Promise((res) => setTimeout(res, 100));
      assert.equal(pSide.mappedFiles, 0, "P let go of both");
    } finally {
      pSide.close();
      d2.close();
    }
  });

  test("auto: D offers shm and tcp at once; P on D's host writes into D's pool, P elsewhere sends over tcp", async () => {
    const model = join(dir, "model");
    const t = await createKvTransport("auto");
    assert.ok(t instanceof AutoKvTransport && t.shm && t.tcp, "both media work here");
    const spec = t.shm.poolSpec();
    const dd = await loadEngine({ modelPath: model, kvCacheBlocks: 16, threads: 1, kvPoolShmPath: spec });
    const bpb = p.info.bytesPerBlock;
    const sink = dd;
    const src = p;
    try {
      t.shm.attachPool(spec, dd.info.kvPoolPath!, dd.info.numBlocks, bpb);
      for (const [where, expect] of [
        ["same host", "shm"],
        ["another host", "tcp"],
      ] as const) {
        const reserved = where === "same host" ? Int32Array.from([3, 9, 5]) : Int32Array.from([11, 2, 14]);
        const target = {
          pool: { ...sink, expectBlocksFrom: dd.expectBlocksFrom.bind(dd) },
          blockIds: reserved,
        };
        const r = await t.openReceiver("req", 3 * bpb, target);
        assert.equal(r.offer.transport, "auto");
        assert.ok(r.offer.shmPoolPath && r.offer.tcpAddress, "one offer names both media");
        // A P on another host sees another host identity in the offer.
        const offer = where === "same host" ? r.offer : { ...r.offer, hostId: "another-host" };
        const s = await senderForOffer(offer, src);
        assert.equal(s.name, expect, where);
        assert.equal(s.maxChunkBytes, expect === "shm" ? 256 * 1024 * 1024 : 64 * 1024 * 1024);
        const sent = await s.sendBlocks!(src, ids(0, 3), 0);
        const got = await r.receiveBlocks!(sink, reserved, { ...sent.payload, crc32: sent.crc, via: s.name });
        assert.equal(got, sent.crc);
        assert.deepEqual(await dd.exportBlocks(reserved), await p.exportBlocks(ids(0, 3)), where);
        // A chunk claiming a medium the transfer did not offer is refused.
        await assert.rejects(
          r.receiveBlocks!(sink, reserved, { ...sent.payload, crc32: sent.crc, via: "rdma" }),
          /carried by 'rdma', which this transfer did not offer/,
        );
        await r.quiesce!();
        r.complete!();
        s.close();
        r.close();
      }
    } finally {
      t.close!();
      dd.free();
    }
  });

  test("tcp: with the engine's native calls the bytes go pool -> socket -> reserved blocks", async () => {
    const bpb = p.info.bytesPerBlock;
    const t = new TcpKvTransport();
    await t.init();
    const sink = d;
    const target = Int32Array.from([15, 9, 12, 10]);
    const r = await t.openReceiver("req", 4 * bpb, { pool: sink, blockIds: target });
    const s = await t.openSender(r.offer);
    const source = p;
    const a = await s.sendBlocks!(source, ids(4, 3), 0);
    const b = await s.sendBlocks!(source, ids(7, 1), 3 * bpb);
    assert.equal(await r.receiveBlocks!(sink, target.subarray(0, 3), a.payload), a.crc);
    assert.equal(await r.receiveBlocks!(sink, target.subarray(3), b.payload), b.crc);
    assert.equal(a.crc, crc32c(await p.exportBlocks(ids(4, 3))));
    assert.deepEqual(await d.exportBlocks(target), await p.exportBlocks(ids(4, 4)));
    // A chunk that names other blocks than the ones it was received into is refused.
    await assert.rejects(r.receiveBlocks!(sink, Int32Array.from([1]), b.payload), /does not name the blocks/);
    r.complete!();
    r.close();
    s.close();
    t.close();
  });

  test("shm: a completed transfer's file is reused by the next one; a failed one's is unlinked", async () => {
    const bpb = p.info.bytesPerBlock;
    const t = new ShmKvTransport({ dir });
    const source = p;
    const sink = d;
    const r1 = await t.openReceiver("a", 2 * bpb);
    const s1 = await t.openSender(r1.offer);
    const c1 = await s1.sendBlocks!(source, ids(0, 2), 0);
    assert.equal(await r1.receiveBlocks!(sink, ids(8, 2), c1.payload), c1.crc);
    r1.complete!();
    r1.close();
    s1.close();
    assert.ok(existsSync(r1.offer.shmPath!), "kept for reuse");
    const r2 = await t.openReceiver("b", 3 * bpb); // same size class: the same file
    assert.equal(r2.offer.shmPath, r1.offer.shmPath);
    const s2 = await t.openSender(r2.offer);
    const c2 = await s2.sendBlocks!(source, ids(2, 3), 0);
    assert.equal(await r2.receiveBlocks!(sink, ids(8, 3), c2.payload), c2.crc);
    assert.deepEqual(await d.exportBlocks(ids(8, 3)), await p.exportBlocks(ids(2, 3)));
    r2.close(); // not completed (a failure): the file goes
    s2.close();
    assert.ok(!existsSync(r2.offer.shmPath!));
    t.close();
  });

  test("tcp: P vanishing mid-transfer fails D's pending import with a clear error", async () => {
    const bpb = p.info.bytesPerBlock;
    const t = new TcpKvTransport();
    await t.init();
    const r = await t.openReceiver("req", 8 * bpb);
    const s: KvSender = await senderForOffer(r.offer);
    const first = await s.sendBlocks!(p, ids(0, 2), 0);
    const sink = d;
    assert.equal(await r.receiveBlocks!(sink, ids(8, 2), first.payload), first.crc);
    const pending = r.receiveBlocks!(sink, ids(10, 6), {
      data: new Uint8Array(0),
      offset: 2 * bpb,
      byteLength: 6 * bpb,
    });
    s.close(); // P dies before its second chunk
    await assert.rejects(pending, /tcp data connection closed by the sender after \d+ of \d+ bytes/);
    r.close();
    t.close();
  });

  test("tcp: an unreachable data plane falls back to inline bytes (which every receiver accepts)", async () => {
    const s = await senderForOffer({
      transport: "tcp",
      tcpAddress: "127.0.0.1:1",
      transferKey: "00112233445566778899aabbccddeeff",
    });
    assert.equal(s.name, "grpc");
  });
});
