/**
 * The tcp data plane's cluster-secret handshake (native/kv-transfer-auth.h): a listener given an
 * auth key takes a transfer's bytes only from a sender that proves it holds the same key; one
 * without it, with another, or with a forged MAC is dropped before its transfer key is looked up,
 * and nothing it sends lands. A plain Node socket speaking the handshake with node:crypto's
 * HMAC-SHA256 is accepted: the native MAC is the standard one.
 */
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type Socket, connect as tcpConnect } from "node:net";
import { describe, it } from "node:test";
import { crc32c, KvRegion, KvTcpConnection, KvTcpListener, type KvTcpProgress } from "../src/index.js";

const SIZE = 4096;

function authedListener(authKey: Buffer, port = 0) {
  const reports: KvTcpProgress[] = [];
  const listener = KvTcpListener.listen("127.0.0.1", (p) => reports.push(p), { port, authKey });
  return { listener, reports };
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function frame(payload: Buffer, offset = 0): Buffer {
  const h = Buffer.alloc(16);
  h.writeBigUInt64LE(BigInt(offset), 0);
  h.writeUInt32LE(payload.length, 8);
  const t = Buffer.alloc(4);
  t.writeUInt32LE(crc32c(payload), 0);
  return Buffer.concat([h, payload, t]);
}

/** Reads exactly n bytes (null when the peer closes first). */
function readN(sock: Socket, n: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= n) {
        done();
        resolve(buf.subarray(0, n));
      }
    };
    const onEnd = () => {
      done();
      resolve(null);
    };
    const done = () => {
      sock.off("data", onData);
      sock.off("close", onEnd);
      sock.off("end", onEnd);
      sock.pause();
    };
    sock.on("data", onData);
    sock.on("close", onEnd);
    sock.on("end", onEnd);
    sock.resume();
  });
}

const mac = (k: Buffer, side: string, nd: Buffer, np: Buffer, key: Buffer) =>
  createHmac("sha256", k)
    .update(Buffer.concat([Buffer.from(side), nd, np, key]))
    .digest();

/** Runs the sender's side of the handshake from plain Node; `forge` sends a wrong MAC. */
async function nodeSender(
  port: number,
  authKey: Buffer,
  transferKey: Buffer,
  forge = false,
): Promise<{ sock: Socket; accepted: boolean }> {
  const sock = tcpConnect(port, "127.0.0.1");
  sock.on("error", () => {});
  await new Promise<void>((r) => sock.once("connect", () => r()));
  const nd = await readN(sock, 16);
  assert.ok(nd, "the listener opens with its nonce");
  const np = randomBytes(16);
  const m = mac(authKey, "P", nd, np, transferKey);
  if (forge) m[0]! ^= 1;
  sock.write(Buffer.concat([transferKey, np, m]));
  const reply = await readN(sock, 32);
  if (reply)
    assert.deepEqual(reply, mac(authKey, "D", nd, np, transferKey), "the listener proves it holds the key");
  return { sock, accepted: reply !== null };
}

describe("kv-transfer tcp handshake (cluster secret)", () => {
  it("a sender with the key delivers; one without it, with another key or a forged MAC is dropped and nothing lands", async () => {
    const authKey = randomBytes(32);
    const { listener, reports } = authedListener(authKey);
    const region = KvRegion.alloc(SIZE);
    const staging = KvRegion.alloc(SIZE);
    try {
      const key = randomBytes(16);
      listener.expect(key.toString("hex"), region, SIZE);
      // No key at all: the sender does not know the handshake; its key and frame are not taken.
      const bare = await KvTcpConnection.connect("127.0.0.1", listener.port, key.toString("hex"), 2000);
      staging.write(0, Buffer.alloc(SIZE, 0xee));
      await bare.sendFrame(staging, 0, SIZE, 0, crc32c(Buffer.alloc(SIZE, 0xee))).catch(() => undefined);
      await until(() => listener.refusedConnections === 1, "the keyless connection to be dropped");
      bare.close();
      // Another key: the native sender fails the handshake and says so.
      await assert.rejects(
        KvTcpConnection.connect("127.0.0.1", listener.port, key.toString("hex"), 2000, randomBytes(32)),
        /authenticating with 127\.0\.0\.1:\d+ failed: the receiver refused the cluster secret/,
      );
      await until(() => listener.refusedConnections === 2, "the wrong-key connection to be dropped");
      // A forged MAC from a plain socket: dropped, and the frame it sends after is not taken.
      const forged = await nodeSender(listener.port, authKey, key, true);
      assert.equal(forged.accepted, false);
      forged.sock.destroy();
      assert.equal(listener.refusedConnections, 3);
      assert.equal(reports.length, 0, "no frame of an unauthenticated sender was reported");
      assert.deepEqual(region.read(0, SIZE), Buffer.alloc(SIZE), "no byte of theirs landed");

      // The same key from plain Node (node:crypto HMAC-SHA256): accepted, its frame lands.
      const payload = randomBytes(SIZE);
      const ok = await nodeSender(listener.port, authKey, key);
      assert.equal(ok.accepted, true);
      ok.sock.write(frame(payload));
      await until(() => reports.length === 1, "the frame's progress report");
      assert.deepEqual([reports[0]!.frameLength, reports[0]!.error], [SIZE, ""]);
      assert.deepEqual(region.read(0, SIZE), payload);
      ok.sock.destroy();
      listener.cancel(key.toString("hex"));

      // The native sender with the key: a second transfer arrives.
      const key2 = randomBytes(16).toString("hex");
      listener.expect(key2, region, SIZE);
      const conn = await KvTcpConnection.connect("127.0.0.1", listener.port, key2, 2000, authKey);
      const bytes = randomBytes(SIZE);
      staging.write(0, bytes);
      await conn.sendFrame(staging, 0, SIZE, 0, crc32c(bytes));
      await until(() => reports.length === 2, "the second transfer's frame");
      assert.equal(reports[1]!.error, "");
      assert.deepEqual(region.read(0, SIZE), bytes);
      conn.close();
      listener.cancel(key2);
      assert.equal(listener.refusedConnections, 3);
    } finally {
      listener.close();
      region.close();
      staging.close();
    }
  });

  it("a sender with the key refuses a listener that does not hold it", async () => {
    // A fake receiver: sends a nonce, then a MAC made with another key.
    const server = createServer((sock) => {
      sock.on("error", () => {});
      sock.write(randomBytes(16));
      sock.once("data", () => sock.write(randomBytes(32)));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      await assert.rejects(
        KvTcpConnection.connect("127.0.0.1", port, randomBytes(16).toString("hex"), 2000, randomBytes(32)),
        /the receiver does not hold the cluster secret/,
      );
    } finally {
      server.close();
    }
  });

  it("listens on the port it is given (--kv-port), and refuses an auth key that is not 32 bytes", async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { listener } = authedListener(randomBytes(32), port);
    try {
      assert.equal(listener.port, port);
      assert.throws(() => authedListener(randomBytes(32), port), /cannot listen on 127\.0\.0\.1:\d+/);
    } finally {
      listener.close();
    }
    assert.throws(
      () => KvTcpListener.listen("127.0.0.1", () => {}, { authKey: randomBytes(16) }),
      /auth key must be 32 bytes/,
    );
  });
});
