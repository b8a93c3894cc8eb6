/**
 * KV transfer throughput: the grpc, tcp and shm (direct, and two copies) KvTransports moving real KV blocks between two
 * engines in two processes (P: the sender, a forked copy of this file; D: this process), through
 * the real PrefillService stream (window, per-chunk CRC-32C, acks, done), against raw loopback
 * sockets (a native thread pair moving a transfer-sized buffer memory to memory, the same with one
 * cached 1 MiB buffer at each end, and Node `net` across the two processes) and memcpy (a 1 MiB
 * cached buffer, and a transfer-sized one), in one run.
 * Prints GB/s and ratios; asserts nothing about timings, but validates every transfer (per-chunk
 * CRCs, the folded CRC, the byte count, and D's blocks read back against P's) before it counts.
 *
 *   node --import tsx bench/disagg/transfer.ts [--mb 256] [--chunk-kb 4096] [--window 8] [--reps 3]
 *
 * The engines run the tiny preset (f32 KV, 216 KiB blocks); P's pool is filled with a pattern once.
 */
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import {
  createPrefillClient,
  loadPrefillService,
  makeModel,
  type PrefillClientMessage__Output,
  type PrefillServerMessage,
  type PrefillServerMessage__Output,
} from "@radixserve/core";
import {
  crc32c,
  crc32cImpl,
  type Engine,
  kvSink,
  kvSource,
  loadEngine,
  tcpRawLoopbackSeconds,
} from "@radixserve/engine-native";
import {
  createKvTransport,
  foldChunkCrc,
  type KvSender,
  type KvSentChunk,
  type KvTransport,
  ShmKvTransport,
  senderForOffer,
} from "@radixserve/kv-transfer";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const MB = arg("mb", 256);
const CHUNK = arg("chunk-kb", 4096) * 1024;
const WINDOW = arg("window", 8);
const REPS = arg("reps", 3);

async function openEngine(modelDir: string, blocks: number, kvPoolShmPath?: string): Promise<Engine> {
  return loadEngine({
    modelPath: modelDir,
    kvCacheBlocks: blocks,
    threads: 1,
    ...(kvPoolShmPath ? { kvPoolShmPath } : {}),
  });
}

function ids(first: number, n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => first + i);
}

// ---------------- sender process (P) ----------------
async function runSender(modelDir: string, blocks: number): Promise<void> {
  const engine = await openEngine(modelDir, blocks);
  const bpb = engine.info.bytesPerBlock;
  // A recognisable pattern in every block, so D's read-back check means something.
  const fill = Buffer.alloc(bpb);
  for (let b = 0; b < blocks; b++) {
    for (let i = 0; i < bpb; i += 4) fill.writeUInt32LE(((i + b * 7919) * 2654435761) >>> 0, i);
    await engine.importBlocks(ids(b, 1), fill);
  }
  const server = new grpc.Server({ "grpc.max_send_message_length": 64 << 20 });
  server.addService(loadPrefillService().service, {
    Prefill(call: grpc.ServerDuplexStream<PrefillClientMessage__Output, PrefillServerMessage>) {
      let unacked = 0;
      let next = 0;
      let total = 0;
      let crc = 0;
      let seq = 0;
      let sender: KvSender | null = null;
      let pumping = false;
      let chunkBlocks = 1;
      // Chunks placed by a pipelined sender, announced in order (prefill-session.ts announce()).
      let announcing = Promise.resolve();
      const announce = (first: number, n: number, { payload, crc: c }: KvSentChunk) => {
        crc = foldChunkCrc(crc, c);
        call.write({
          chunk: {
            seq: seq++,
            firstBlock: first,
            numBlocks: n,
            data: payload.data,
            offset: payload.offset,
            byteLength: payload.byteLength,
            crc32: c,
            transport: payload.data.byteLength > 0 ? "grpc" : (sender?.name ?? "grpc"),
          },
        });
      };
      const pump = async () => {
        if (pumping || !sender) return;
        pumping = true;
        try {
          while (next < total && unacked < WINDOW) {
            const first = next;
            const n = Math.min(chunkBlocks, total - first);
            next += n;
            unacked++;
            // The prefill worker's path (prefill-session.ts pump() and place()).
            if (sender.sendBlocks) {
              const placed = sender.sendBlocks(engine, ids(first, n), first * bpb);
              if (sender.pipelined) {
                placed.catch(() => undefined); // a failure surfaces through `announcing`
                announcing = announcing.then(async () => announce(first, n, await placed));
                announcing.catch((e: Error) => call.destroy(e));
                continue;
              }
              announce(first, n, await placed);
            } else {
              const data = Buffer.allocUnsafe(n * bpb);
              const c = await engine.exportBlocks(ids(first, n), kvSink.memory(data, 0));
              announce(first, n, { payload: await sender.write(data, first * bpb), crc: c });
            }
          }
          if (next >= total && unacked === 0) {
            await announcing;
            call.write({
              done: { crc32: crc, bytesSent: total * bpb, blocksSent: total, transport: sender.name },
            });
            call.end();
            sender.close();
            sender = null;
          }
        } catch (e) {
          call.destroy(e as Error);
        } finally {
          pumping = false;
        }
      };
      call.on("data", async (m: PrefillClientMessage__Output) => {
        if (m.start) {
          total = m.start.numBlocks;
          sender = await senderForOffer(m.start.offer, engine);
          // The prefill worker's cap (prefill-session.ts onStart): 32 MiB for bytes on the stream.
          const cap = sender.maxChunkBytes ?? 32 * 1024 * 1024;
          chunkBlocks = Math.max(1, Math.floor(Math.min(m.start.chunkBytes || CHUNK, cap) / bpb));
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
  const payload = Buffer.alloc(1 << 20, 5);
  const raw = createServer((sock) => {
    sock.once("data", (d) => {
      let left = Number(d.toString());
      const write = () => {
        while (left > 0) {
          const n = Math.min(left, payload.length);
          left -= n;
          if (!sock.write(n === payload.length ? payload : payload.subarray(0, n)))
            return void sock.once("drain", write);
        }
        sock.end();
      };
      write();
    });
  });
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", () => r()));
  const rawPort = (raw.address() as { port: number }).port;
  // D asks for the reference bytes of a few blocks to check its imports against.
  process.on("message", async (m: { check?: number[] }) => {
    if (m.check) {
      const data = await engine.exportBlocks(Int32Array.from(m.check));
      process.send!({ checkCrc: crc32c(data) });
    }
  });
  process.send!({ port, rawPort, bpb });
  process.once("disconnect", () => process.exit(0));
}

// ---------------- receiver (D, the benchmark driver) ----------------
/** One transport per row for the whole run, as a decode worker holds one (its regions are reused). */
const transports = new Map<string, KvTransport>();
const clients = new Map<string, ReturnType<typeof createPrefillClient>>();
type Row = "grpc" | "tcp" | "shm" | "shm, two copies";
const ROWS: readonly Row[] = ["grpc", "tcp", "shm", "shm, two copies"];

async function viaTransport(engine: Engine, address: string, row: Row, blocks: number): Promise<number> {
  const bpb = engine.info.bytesPerBlock;
  const name = row === "shm, two copies" ? "shm" : row;
  let transport = transports.get(row);
  if (!transport) {
    transport = await createKvTransport(name);
    transports.set(row, transport);
  }
  // One client (channel) per prefill worker for the whole run, as the decode worker keeps them.
  let client = clients.get(address);
  if (!client) {
    client = createPrefillClient(address);
    clients.set(address, client);
  }
  // As the decode worker does: name the reserved blocks, so tcp can land the bytes straight in them.
  const receiver = await transport.openReceiver("bench", blocks * bpb, {
    pool: engine,
    blockIds: ids(0, blocks),
  });
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
          const target = ids(c.firstBlock, c.numBlocks);
          const payload = {
            data: c.data,
            offset: Number(c.offset),
            byteLength: c.byteLength,
            crc32: c.crc32,
            via: c.transport,
          };
          // The decode worker's path (decode-transfer.ts importChunk()).
          const got = receiver.receiveBlocks
            ? await receiver.receiveBlocks(engine, target, payload)
            : await engine.importBlocks(target, kvSource.memory(await receiver.read(payload), 0));
          if (got !== c.crc32) throw new Error(`${name} chunk ${c.seq}: CRC mismatch`);
          crc = foldChunkCrc(crc, c.crc32);
          received += c.byteLength;
          stream.write({ chunkAck: { seq: c.seq } });
        });
        chain.catch(reject);
      } else if (m.done) {
        const d = m.done;
        chain.then(() => resolve(d), reject);
      }
    });
    stream.on("error", reject);
    stream.write({
      // The receiver's preferred chunk size when it has one (decode-transfer.ts does the same).
      start: {
        numBlocks: blocks,
        offer: receiver.offer,
        windowChunks: WINDOW,
        chunkBytes: receiver.chunkBytes ?? CHUNK,
      },
    });
  });
  await receiver.quiesce?.(); // direct shm: P can no longer write (part of the transfer's time)
  const secs = (performance.now() - t0) / 1000;
  stream.end();
  receiver.complete?.();
  receiver.close();
  if (!done || done.crc32 !== crc || received !== blocks * bpb)
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

/** memcpy of `size`-byte buffers until `bytes` moved (1 MiB stays in cache; transfer-sized does not). */
function viaMemcpy(bytes: number, size: number): number {
  const src = Buffer.alloc(size, 7);
  const dst = Buffer.alloc(size, 1);
  const n = Math.max(1, Math.round(bytes / size));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) src.copy(dst);
  return (n * size) / ((performance.now() - t0) / 1000) / 1e9;
}

const best = (xs: number[]) => Math.max(...xs);

async function main(): Promise<void> {
  const role = process.argv.indexOf("--role");
  if (role >= 0) return runSender(process.argv[role + 1]!, Number(process.argv[role + 2]));
  const dir = mkdtempSync(join(tmpdir(), "radixserve-bench-transfer-"));
  const modelDir = await makeModel({ preset: "tiny", out: join(dir, "tiny") });
  const probe = await openEngine(modelDir, 1);
  const bpb = probe.info.bytesPerBlock;
  probe.free();
  const blocks = Math.max(1, Math.round((MB * 1024 * 1024) / bpb));
  const bytes = blocks * bpb;
  // D's pool in shared memory, as a decode worker with --kv-transport shm keeps it: the `shm` row is the
  // direct path (P writes into D's blocks); `shm, two copies` goes through a per-transfer file.
  const direct = new ShmKvTransport();
  const poolSpec = direct.poolSpec();
  const engine = await openEngine(modelDir, blocks, poolSpec);
  direct.attachPool(poolSpec, engine.info.kvPoolPath!, blocks, bpb);
  transports.set("shm", direct);
  const child = fork(
    new URL(import.meta.url).pathname,
    [...process.argv.slice(2), "--role", modelDir, String(blocks)],
    {
      execArgv: process.execArgv,
    },
  );
  try {
    const { port, rawPort } = await new Promise<{ port: number; rawPort: number }>((r) =>
      child.once("message", r as never),
    );
    const address = `127.0.0.1:${port}`;
    const results: Record<string, number[]> = {
      "memcpy (1 MiB, cached)": [],
      "memcpy (transfer-sized)": [],
      "raw socket, native, memory": [],
      "raw socket, native, cached": [],
      "raw socket, Node net": [],
      grpc: [],
      tcp: [],
      shm: [],
      "shm, two copies": [],
    };
    for (const t of ROWS) await viaTransport(engine, address, t, Math.min(blocks, 64)); // warm-up
    for (let r = 0; r < REPS; r++) {
      results["memcpy (1 MiB, cached)"]!.push(viaMemcpy(bytes, 1 << 20));
      results["memcpy (transfer-sized)"]!.push(viaMemcpy(bytes, bytes));
      results["raw socket, native, memory"]!.push(bytes / tcpRawLoopbackSeconds(bytes, 1 << 20, true) / 1e9);
      results["raw socket, native, cached"]!.push(bytes / tcpRawLoopbackSeconds(bytes, 1 << 20, false) / 1e9);
      results["raw socket, Node net"]!.push(await viaRawSocket(rawPort, bytes));
      for (const t of ROWS) {
        results[t]!.push(await viaTransport(engine, address, t, blocks));
        // D's blocks equal P's (one block of the transfer chosen per rep, checked by CRC).
        const b = (r * 7919 + 13) % blocks;
        const mine = crc32c(await engine.exportBlocks(ids(b, 1)));
        child.send({ check: [b] });
        const theirs = await new Promise<number>((res) =>
          child.once("message", (m: { checkCrc: number }) => res(m.checkCrc)),
        );
        if (mine !== theirs) throw new Error(`${t}: block ${b} on D differs from P's`);
      }
    }
    const rawNative = best(results["raw socket, native, memory"]!);
    const rawCached = best(results["raw socket, native, cached"]!);
    const rawNode = best(results["raw socket, Node net"]!);
    const memBig = best(results["memcpy (transfer-sized)"]!);
    const memSmall = best(results["memcpy (1 MiB, cached)"]!);
    console.log(
      `KV transfer: ${(bytes / 2 ** 20).toFixed(0)} MiB (${blocks} blocks of ${bpb} B) in ${CHUNK / 1024} KiB chunks, window ${WINDOW}, best of ${REPS}; CRC-32C: ${crc32cImpl()}`,
    );
    console.log(
      `  ${"".padEnd(27)} ${"GB/s".padStart(6)}   ${"/raw mem".padStart(8)} ${"/raw cached".padStart(11)} ${"/raw Node".padStart(9)} ${"/memcpy big".padStart(11)} ${"/memcpy 1MiB".padStart(12)}   runs`,
    );
    for (const [k, v] of Object.entries(results)) {
      const b = best(v);
      const f = (x: number) => `${(b / x).toFixed(2)}x`;
      console.log(
        `  ${k.padEnd(27)} ${b.toFixed(2).padStart(6)}   ${f(rawNative).padStart(8)} ${f(rawCached).padStart(11)} ${f(rawNode).padStart(9)} ${f(memBig).padStart(11)} ${f(memSmall).padStart(12)}   [${v.map((x) => x.toFixed(2)).join(", ")}]`,
      );
    }
  } finally {
    child.disconnect();
    for (const t of transports.values()) t.close?.();
    for (const c of clients.values()) c.close();
    engine.free();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
