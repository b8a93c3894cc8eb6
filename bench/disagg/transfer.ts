/**
 * KV transfer throughput: the grpc, tcp and shm KvTransports (the real PrefillService stream, flow
 * control window, per-chunk CRC-32 and acks, sender in a separate process) against a raw loopback
 * socket and memcpy, in the same run. Prints GB/s and ratios; asserts nothing about timings, but
 * validates every transfer's checksum before it counts.
 *
 *   node --import tsx bench/disagg/transfer.ts [--mb 256] [--chunk-kb 1024] [--window 8] [--reps 3] [--no-crc]
 *
 * (The sender role is this same file started with `--role sender`.)
 */
import { fork } from "node:child_process";
import { connect, createServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import {
  createKvTransport,
  createPrefillClient,
  foldChunkCrc,
  kvCrc32,
  loadPrefillService,
  type PrefillClientMessage__Output,
  type PrefillServerMessage,
  type PrefillServerMessage__Output,
  senderForOffer,
} from "@radixserve/core";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const MB = arg("mb", 256);
const CHUNK = arg("chunk-kb", 1024) * 1024;
const WINDOW = arg("window", 8);
const REPS = arg("reps", 3);
/** --no-crc: skip the per-chunk CRC-32 on both sides, to show what it costs (workers always check). */
const NO_CRC = process.argv.includes("--no-crc");

// ---------------- sender process ----------------
async function runSender(): Promise<void> {
  const payload = Buffer.alloc(CHUNK);
  for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE((i * 2654435761) >>> 0, i);
  const server = new grpc.Server({ "grpc.max_send_message_length": 64 << 20 });
  server.addService(loadPrefillService().service, {
    Prefill(call: grpc.ServerDuplexStream<PrefillClientMessage__Output, PrefillServerMessage>) {
      let unacked = 0;
      let next = 0;
      let total = 0;
      let crc = 0;
      let sender: Awaited<ReturnType<typeof senderForOffer>> | null = null;
      let pumping = false;
      const pump = async () => {
        if (pumping || !sender) return;
        pumping = true;
        while (next < total && unacked < WINDOW) {
          const seq = next++;
          unacked++;
          const p = await sender.write(payload, seq * CHUNK);
          const c = NO_CRC ? 0 : kvCrc32(payload); // after the write, as the prefill worker does

          crc = foldChunkCrc(crc, c);
          call.write({
            chunk: {
              seq,
              firstBlock: seq,
              numBlocks: 1,
              data: p.data,
              offset: p.offset,
              byteLength: p.byteLength,
              crc32: c,
            },
          });
        }
        if (next >= total && unacked === 0) {
          call.write({
            done: { crc32: crc, bytesSent: total * CHUNK, blocksSent: total, transport: sender.name },
          });
          call.end();
          sender.close();
        }
        pumping = false;
      };
      call.on("data", async (m: PrefillClientMessage__Output) => {
        if (m.start) {
          total = m.start.numBlocks;
          sender = await senderForOffer(m.start.offer);
          void pump();
        } else if (m.chunkAck) {
          unacked--;
          void pump();
        }
      });
      call.on("error", () => {});
    },
  });
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  // Raw socket sender: on connect, write `n` bytes then close.
  const raw = createServer((sock) => {
    sock.once("data", (d) => {
      let left = Number(d.toString());
      const write = () => {
        while (left > 0) {
          const n = Math.min(left, CHUNK);
          left -= n;
          if (!sock.write(n === CHUNK ? payload : payload.subarray(0, n)))
            return void sock.once("drain", write);
        }
        sock.end();
      };
      write();
    });
  });
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", () => r()));
  const rawPort = (raw.address() as { port: number }).port;
  process.send!({ port, rawPort });
  process.once("disconnect", () => process.exit(0)); // the driver is done (exit cleanly: profiles flush)
}

// ---------------- receiver (the benchmark driver) ----------------
async function viaTransport(address: string, name: "grpc" | "shm" | "tcp", chunks: number): Promise<number> {
  const transport = await createKvTransport(name);
  const client = createPrefillClient(address);
  const receiver = await transport.openReceiver("bench", chunks * CHUNK);
  const t0 = performance.now();
  const stream = client.prefill();
  let crc = 0;
  let received = 0;
  let chain = Promise.resolve();
  const done = await new Promise<PrefillServerMessage__Output["done"]>((resolve, reject) => {
    stream.on("data", (m: PrefillServerMessage__Output) => {
      if (m.chunk) {
        const c = m.chunk;
        chain = chain.then(async () => {
          const bytes = await receiver.read({
            data: c.data,
            offset: Number(c.offset),
            byteLength: c.byteLength,
          });
          if (!NO_CRC && kvCrc32(bytes) !== c.crc32) throw new Error(`chunk ${c.seq}: CRC mismatch`);
          crc = foldChunkCrc(crc, c.crc32);
          received += bytes.byteLength;
          stream.write({ chunkAck: { seq: c.seq } });
        });
        chain.catch(reject);
      } else if (m.done) {
        const d = m.done;
        void chain.then(() => resolve(d));
      }
    });
    stream.on("error", reject);
    stream.write({
      start: { numBlocks: chunks, offer: receiver.offer, windowChunks: WINDOW, chunkBytes: CHUNK },
    });
  });
  const secs = (performance.now() - t0) / 1000;
  stream.end();
  receiver.close();
  client.close();
  if (!done || done.crc32 !== crc || received !== chunks * CHUNK)
    throw new Error(`${name}: checksum or size mismatch`);
  if (done.transport !== name) throw new Error(`${name}: the sender used ${done.transport}`);
  return received / secs / 1e9;
}

async function viaRawSocket(port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let got = 0;
    const s = connect(port, "127.0.0.1", () => s.write(String(bytes)));
    s.on("data", (d) => {
      got += d.length;
    });
    s.on("end", () => {
      if (got !== bytes) reject(new Error(`raw socket: ${got} of ${bytes} bytes`));
      else resolve(bytes / ((performance.now() - t0) / 1000) / 1e9);
    });
    s.on("error", reject);
  });
}

function viaMemcpy(bytes: number): number {
  const src = Buffer.alloc(CHUNK, 7);
  const dst = Buffer.alloc(CHUNK);
  const n = Math.ceil(bytes / CHUNK);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) src.copy(dst);
  return (n * CHUNK) / ((performance.now() - t0) / 1000) / 1e9;
}

function best(xs: number[]): number {
  return Math.max(...xs);
}

async function main(): Promise<void> {
  if (process.argv.includes("--role")) return runSender();
  const child = fork(new URL(import.meta.url).pathname, [...process.argv.slice(2), "--role", "sender"], {
    execArgv: process.execArgv,
  });
  try {
    const { port, rawPort } = await new Promise<{ port: number; rawPort: number }>((r) =>
      child.once("message", r as never),
    );
    const address = `127.0.0.1:${port}`;
    const chunks = Math.max(1, Math.round((MB * 1024 * 1024) / CHUNK));
    const bytes = chunks * CHUNK;
    const results: Record<string, number[]> = { memcpy: [], raw: [], grpc: [], tcp: [], shm: [] };
    await viaTransport(address, "grpc", Math.min(chunks, 8)); // warm-up (connection, JIT)
    for (let r = 0; r < REPS; r++) {
      results["memcpy"]!.push(viaMemcpy(bytes));
      results["raw"]!.push(await viaRawSocket(rawPort, bytes));
      results["grpc"]!.push(await viaTransport(address, "grpc", chunks));
      results["tcp"]!.push(await viaTransport(address, "tcp", chunks));
      results["shm"]!.push(await viaTransport(address, "shm", chunks));
    }
    const raw = best(results["raw"]!);
    const mem = best(results["memcpy"]!);
    console.log(
      `KV transfer: ${MB} MiB in ${CHUNK / 1024} KiB chunks, window ${WINDOW}, best of ${REPS} (GB/s)`,
    );
    for (const [k, v] of Object.entries(results)) {
      const b = best(v);
      console.log(
        `  ${k.padEnd(7)} ${b.toFixed(2).padStart(6)} GB/s   vs raw socket ${(b / raw).toFixed(2)}x   vs memcpy ${(b / mem).toFixed(3)}x   [${v.map((x) => x.toFixed(2)).join(", ")}]`,
      );
    }
  } finally {
    child.disconnect();
  }
}

await main();
