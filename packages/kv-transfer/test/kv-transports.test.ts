import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { RadixServeError } from "@radixserve/core";
import { foldChunkCrc, kvCrc32 } from "../src/checksum.js";
import { hostId } from "../src/host-id.js";
import type { KvReceiver, KvSender } from "../src/kv-transport.js";
import { createKvTransport, kvTransportNames, senderForOffer } from "../src/registry.js";
import { ShmKvTransport, sweepStaleFiles } from "../src/shm-transport.js";

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Sends `chunks` through sender -> receiver the way a transfer does (offset per chunk). */
async function roundTrip(sender: KvSender, receiver: KvReceiver, chunks: Buffer[]): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let offset = 0;
  const payloads = [];
  for (const c of chunks) {
    payloads.push(await sender.write(c, offset));
    offset += c.byteLength;
  }
  for (const p of payloads) out.push(Buffer.from(await receiver.read(p)));
  return out;
}

describe("KvTransport registry", () => {
  test("names auto, grpc, shm, tcp and rdma; unknown names fail with the list", async () => {
    assert.deepEqual(kvTransportNames().sort(), ["auto", "grpc", "rdma", "shm", "tcp"]);
    await assert.rejects(createKvTransport("carrier-pigeon"), (e: unknown) => {
      assert.ok(e instanceof RadixServeError);
      assert.match(e.message, /carrier-pigeon is not available.*grpc/);
      return true;
    });
  });

  test("rdma fails at start-up with a clear not-built message", async () => {
    await assert.rejects(createKvTransport("rdma"), /rdma is not built/);
  });

  test("a sender for an offer it cannot honour falls back to inline bytes", async () => {
    assert.equal((await senderForOffer(null)).name, "grpc");
    assert.equal(
      (await senderForOffer({ transport: "shm", shmPath: "/dev/shm/x", hostId: "another-host" })).name,
      "grpc",
    );
    assert.equal((await senderForOffer({ transport: "tcp", tcpAddress: "nonsense" })).name, "grpc");
  });
});

describe("KvTransport implementations move bytes exactly", () => {
  const chunks = [bytes(1000, 1), bytes(70_000, 2), bytes(5, 3), bytes(300_000, 4)];
  const total = chunks.reduce((s, c) => s + c.byteLength, 0);

  for (const name of ["grpc", "shm", "tcp"] as const) {
    test(`${name}: chunks read back byte-identical, at their offsets`, async () => {
      const t = await createKvTransport(name);
      const r = await t.openReceiver("req-1", total);
      assert.equal(r.offer.transport, name);
      const s = await senderForOffer(r.offer);
      assert.equal(s.name, name);
      const back = await roundTrip(s, r, chunks);
      assert.deepEqual(back, chunks);
      s.close();
      r.close();
      r.close(); // idempotent
    });
  }

  test("shm: the file is removed on close, and files of dead processes are swept", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kv-shm-"));
    try {
      const t = new ShmKvTransport({ dir });
      await t.init();
      const r = await t.openReceiver("req", 64);
      const path = r.offer.shmPath!;
      assert.ok(existsSync(path));
      r.close();
      assert.ok(!existsSync(path));
      writeFileSync(join(dir, "radixserve-kv-999999999-1"), "x"); // no such pid
      writeFileSync(join(dir, `radixserve-kv-${process.pid}-77`), "x"); // ours: kept
      assert.equal(sweepStaleFiles(dir), 1);
      assert.ok(existsSync(join(dir, `radixserve-kv-${process.pid}-77`)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("shm: a sender refuses a path outside the transfer directory", async () => {
    const s = await senderForOffer({ transport: "shm", shmPath: "/etc/passwd", hostId: hostId() });
    assert.equal(s.name, "grpc");
  });

  test("tcp: a read waits for its bytes and fails when the connection drops", async () => {
    const t = await createKvTransport("tcp");
    const r = await t.openReceiver("req", 10);
    const pending = r.read({ data: new Uint8Array(0), offset: 0, byteLength: 10 });
    const s = await senderForOffer(r.offer);
    s.close(); // the connection ends with nothing sent
    await assert.rejects(pending, /closed/);
    r.close();
  });
});

test("checksums: kvCrc32 chains like one pass; foldChunkCrc depends on every chunk and their order", () => {
  const a = bytes(1000, 1);
  const b = bytes(2000, 2);
  assert.equal(kvCrc32(b, kvCrc32(a)), kvCrc32(Buffer.concat([a, b])));
  const ab = foldChunkCrc(foldChunkCrc(0, kvCrc32(a)), kvCrc32(b));
  const ba = foldChunkCrc(foldChunkCrc(0, kvCrc32(b)), kvCrc32(a));
  assert.notEqual(ab, ba);
  const c = Buffer.from(b);
  c[1999] = c[1999]! ^ 1;
  assert.notEqual(foldChunkCrc(foldChunkCrc(0, kvCrc32(a)), kvCrc32(c)), ab);
});
