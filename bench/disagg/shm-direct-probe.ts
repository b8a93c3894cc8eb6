/**
 * The direct shm data path (goal: shm >= 0.5x memcpy) without the control stream: D's engine
 * keeps its KV pool in a /dev/shm file (kvPoolShmPath), P maps that file and its engine copies each
 * block straight into D's reserved block ids (exportBlocks to a pool sink: one copy, CRC-32C in the same
 * pass); D then verifies by reading the blocks once (crcBlocks), or trusts P's CRC. Timed in one
 * process and one run against a transfer-sized memcpy and today's two-copy shm path
 * (exportBlocks into a mapping + importBlocks from it). Not yet wired into the shm KvTransport.
 *
 * Every copy's CRC is checked against the source's (and, per rep, one of D's blocks is compared
 * with P's) before its time counts. Prints GB/s and ratios; asserts nothing about timings.
 *
 *   node --import tsx bench/disagg/shm-direct-probe.ts [--mb 256] [--reps 5]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeModel } from "@radixserve/core";
import { crc32c, crc32cImpl, KvRegion, kvSink, kvSource, loadEngine } from "@radixserve/engine-native";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const MB = arg("mb", 256);
const REPS = arg("reps", 5);

function ids(first: number, n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => first + i);
}

function gbps(bytes: number, ms: number): number {
  return bytes / (ms / 1000) / 1e9;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "radixserve-bench-shm-probe-"));
  const shmPath = `/dev/shm/radixserve-probe-pool-${process.pid}`;
  let dPool: KvRegion | null = null;
  let staging: KvRegion | null = null;
  try {
    const modelDir = await makeModel({ preset: "tiny", out: join(dir, "tiny") });
    const probe = await loadEngine({ modelPath: modelDir, kvCacheBlocks: 1, threads: 1 });
    const bpb = probe.info.bytesPerBlock;
    probe.free();
    const blocks = Math.max(1, Math.round((MB * 1024 * 1024) / bpb));
    const bytes = blocks * bpb;
    const p = await loadEngine({ modelPath: modelDir, kvCacheBlocks: blocks, threads: 1 });
    // D's pool lives in the shared file: created, reserved and populated at load.
    const d = await loadEngine({
      modelPath: modelDir,
      kvCacheBlocks: blocks,
      threads: 1,
      kvPoolShmPath: shmPath,
    });
    // A pattern in every block of P's pool (and so every page committed).
    const fill = Buffer.alloc(bpb);
    let sourceCrc = 0;
    for (let b = 0; b < blocks; b++) {
      for (let i = 0; i < bpb; i += 4) fill.writeUInt32LE(((i + b * 7919) * 2654435761) >>> 0, i);
      await p.importBlocks(ids(b, 1), fill);
      sourceCrc = crc32c(fill, sourceCrc);
    }
    dPool = KvRegion.openShm(shmPath, 0, false); // P's mapping of D's pool
    staging = KvRegion.openShm(`${shmPath}-staging`, bytes, true); // today's per-transfer file
    const src = ids(0, blocks);
    // D's "reserved" blocks: reversed, so the copy scatters as a real reservation would.
    const dst = Int32Array.from(src).reverse();
    const mcSrc = Buffer.alloc(bytes, 7);
    const mcDst = Buffer.alloc(bytes, 1);
    const rows: Record<string, number[]> = {
      "memcpy (transfer-sized)": [],
      "direct: P pool -> D pool (CRC of source)": [],
      "direct: D readback CRC": [],
      "direct: copy + D readback": [],
      "two-copy shm: export + import": [],
    };
    for (let r = 0; r < REPS; r++) {
      let t0 = performance.now();
      mcSrc.copy(mcDst);
      rows["memcpy (transfer-sized)"]!.push(gbps(bytes, performance.now() - t0));

      t0 = performance.now();
      const sent = await p.exportBlocks(src, kvSink.pool(dPool, dst));
      const tCopy = performance.now() - t0;
      const checked = await d.crcBlocks(dst);
      const tBoth = performance.now() - t0;
      if (sent !== sourceCrc || checked !== sourceCrc)
        throw new Error(`direct CRCs ${sent} / ${checked} != source ${sourceCrc}`);
      const probeBlock = r % blocks;
      if (
        !(await p.exportBlocks(ids(probeBlock, 1))).equals(
          await d.exportBlocks(dst.subarray(probeBlock, probeBlock + 1)),
        )
      )
        throw new Error(`D's block ${dst[probeBlock]} differs from P's block ${probeBlock}`);
      rows["direct: P pool -> D pool (CRC of source)"]!.push(gbps(bytes, tCopy));
      rows["direct: D readback CRC"]!.push(gbps(bytes, tBoth - tCopy));
      rows["direct: copy + D readback"]!.push(gbps(bytes, tBoth));

      t0 = performance.now();
      const c3 = await p.exportBlocks(src, kvSink.memory(staging, 0));
      const c4 = await d.importBlocks(dst, kvSource.memory(staging, 0));
      rows["two-copy shm: export + import"]!.push(gbps(bytes, performance.now() - t0));
      if (c3 !== sourceCrc || c4 !== sourceCrc) throw new Error("two-copy CRC mismatch");
    }
    const best = (xs: number[]) => Math.max(...xs);
    const mem = best(rows["memcpy (transfer-sized)"]!);
    console.log(
      `shm direct path (no control stream): ${(bytes / 2 ** 20).toFixed(0)} MiB (${blocks} blocks of ${bpb} B), best of ${REPS}; CRC-32C: ${crc32cImpl()}`,
    );
    for (const [name, xs] of Object.entries(rows))
      console.log(
        `  ${name.padEnd(40)} ${best(xs).toFixed(2).padStart(6)} GB/s  ${(best(xs) / mem).toFixed(2)}x memcpy   runs ${xs.map((x) => x.toFixed(2)).join(" ")}`,
      );
    p.free();
    d.free();
  } finally {
    dPool?.close();
    staging?.close();
    rmSync(shmPath, { force: true }); // D's free() removes it; this covers a failed run
    rmSync(`${shmPath}-staging`, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
