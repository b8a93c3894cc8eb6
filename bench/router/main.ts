// Router micro-benchmark: how fast the cluster layer decides and how fast it follows KV events.
//
//   node --import tsx bench/router/main.ts [--workers 16] [--blocks 100000] [--requests 20000]
//                                          [--prompt-blocks 64] [--policy cache_aware] [--json]
//
// Builds a KvIndex holding --blocks indexed blocks spread over --workers workers (prompt groups
// with shared system prefixes, each group cached on two workers, as a real cache-aware cluster
// looks), then measures:
//   1. routing decision latency (RouteSelector.select: chain-hash lookup in the index + policy
//      pick + approximate insertion), p50 / p99 / mean, for each policy in turn;
//   2. KV events applied per second through the KvEventFollower (stored batches, then removals).
// The chain hashing of the prompt is measured separately (the gateway does it once per request).
// Results are validated first (a request of a cached group must match its workers' prefix).
// Timings are printed, never asserted. Besides wall-clock figures (which a loaded machine
// inflates: a descheduled process shows its wait in p99) it prints the process CPU time per
// decision and per applied block, and the load average, so runs on a shared machine compare.
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { KvEventBatch } from "@radixserve/cluster";
import { blockHashSeed, chainHashes } from "@radixserve/core";
import type { WorkerView } from "@radixserve/router";
import { createPolicy, KvEventFollower, KvIndex, policyNames, RouteSelector } from "@radixserve/router";
import { dist } from "../serving/stats.js";

const { values: args } = parseArgs({
  options: {
    workers: { type: "string", default: "16" },
    blocks: { type: "string", default: "100000" },
    requests: { type: "string", default: "20000" },
    "prompt-blocks": { type: "string", default: "64" },
    "block-size": { type: "string", default: "16" },
    policy: { type: "string" },
    json: { type: "boolean", default: false },
  },
});

function int(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`bench/router: --${name} must be a positive integer, got '${v}'\n`);
    process.exit(2);
  }
  return n;
}

const WORKERS = int("workers", args.workers);
const BLOCKS = int("blocks", args.blocks);
const REQUESTS = int("requests", args.requests);
const PROMPT_BLOCKS = int("prompt-blocks", args["prompt-blocks"]);
const BS = int("block-size", args["block-size"]);
const SEED = blockHashSeed("bench-router");

let state = 12345;
function rand(): number {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state / 4294967296;
}

/** Prompt tokens of group g, variant v: a shared system prefix of 3/4 of the prompt, then a question. */
function promptTokens(g: number, v: number): number[] {
  const shared = Math.floor((PROMPT_BLOCKS * BS * 3) / 4);
  const out: number[] = [];
  for (let i = 0; i < shared; i++) out.push((g * 7919 + i * 31) % 32000);
  for (let i = shared; i < PROMPT_BLOCKS * BS; i++) out.push((g * 131 + v * 977 + i) % 32000);
  return out;
}

const workerIds = Array.from({ length: WORKERS }, (_, i) => `10.0.${i >> 8}.${i & 255}:50051`);

// --- the KV events that fill the index (the same for every policy run) ---
const eventIds = new Map<string, number>();
const batches: KvEventBatch[] = [];
const groups: { g: number; holders: string[] }[] = [];
let planned = 0;
for (let g = 0; planned < BLOCKS; g++) {
  const holders = [...new Set([workerIds[g % WORKERS]!, workerIds[(g * 7 + 3) % WORKERS]!])];
  groups.push({ g, holders });
  for (let v = 0; v < 4 && planned < BLOCKS; v++) {
    const hashes = chainHashes(SEED, promptTokens(g, v), BS);
    for (const w of holders) {
      const blocks = hashes.map((hash, i) => ({ hash, parent: i > 0 ? hashes[i - 1]! : null }));
      const id = (eventIds.get(w) ?? 0) + 1;
      eventIds.set(w, id);
      batches.push({
        v: 1,
        workerId: w,
        instanceId: "bench",
        eventId: id,
        events: [{ type: "stored", blocks }],
      });
    }
    // Distinct blocks added: the whole chain for v=0, the question tail afterwards.
    planned += v === 0 ? hashes.length : PROMPT_BLOCKS - Math.floor((PROMPT_BLOCKS * 3) / 4);
  }
}
const storedEvents = batches.reduce(
  (s, b) => s + (b.events[0]!.type === "stored" ? b.events[0]!.blocks.length : 0),
  0,
);

/** A fresh index + follower fed every batch; returns them with the time the batches took. */
let storeCpuMs = 0;
async function buildIndex(): Promise<{ index: KvIndex; follower: KvEventFollower; ms: number }> {
  const index = new KvIndex();
  const follower = new KvEventFollower({
    index,
    // Every worker starts empty at event 0 of instance "bench".
    requestSnapshot: async (workerId) => ({
      ok: true,
      value: { v: 1, workerId, instanceId: "bench", eventId: 0, blocks: [] },
    }),
  });
  follower.setEventsUp(true);
  for (const w of workerIds) follower.workerJoined(w);
  await new Promise((r) => setImmediate(r));
  if (!workerIds.every((w) => follower.isSynced(w))) throw new Error("bench invalid: workers not synced");
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const b of batches) follower.applyBatch(b);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  storeCpuMs = (cpu.user + cpu.system) / 1000;
  if (follower.stats.batchesApplied !== batches.length || follower.stats.gaps !== 0)
    throw new Error(
      `bench invalid: ${follower.stats.batchesApplied}/${batches.length} applied, ${follower.stats.gaps} gaps`,
    );
  return { index, follower, ms };
}

const built = await buildIndex();
const { index, follower } = built;
const storeMs = built.ms;
const storeCpu = storeCpuMs;
const indexedBlocks = index.size;

// --- validate: a request of group g matches its holders' shared prefix ---
for (const { g, holders } of groups.slice(0, 50)) {
  const hashes = chainHashes(SEED, promptTokens(g, 999), BS);
  const m = index.match(hashes);
  for (const w of holders) {
    if ((m.get(w) ?? 0) !== Math.floor((PROMPT_BLOCKS * 3) / 4))
      throw new Error(`bench invalid: group ${g} matched ${m.get(w) ?? 0} blocks on ${w}`);
  }
}

// --- routing decisions per policy ---
const requests = Array.from({ length: REQUESTS }, (_, i) => {
  const g = Math.floor(rand() * groups.length);
  return { key: `req-${i}`, hashes: chainHashes(SEED, promptTokens(g, 1000 + i), BS) };
});
const lookup: number[] = [];
for (const r of requests.slice(0, 5000)) {
  const s = performance.now();
  index.match(r.hashes);
  lookup.push((performance.now() - s) * 1000);
}
const lookupDist = dist(lookup);
let t0 = performance.now();
for (let i = 0; i < 2000; i++) chainHashes(SEED, promptTokens(i % groups.length, i), BS);
const hashUs = ((performance.now() - t0) * 1000) / 2000;

const results: Record<string, unknown>[] = [];
const policies = args.policy ? [args.policy] : policyNames();
for (const name of policies) {
  // A fresh index per policy: the previous run's approximate insertions must not help this one.
  const { index, follower } = await buildIndex();
  const inFlight = new Map<string, number>();
  const sel = new RouteSelector({ policy: createPolicy(name), index, follower });
  const lat: number[] = [];
  const reasons = new Map<string, number>();
  let matched = 0;
  let cpuUs = 0;
  for (let i = 0; i < requests.length; i++) {
    const views: WorkerView[] = workerIds.map((id) => ({
      id,
      inFlight: inFlight.get(id) ?? 0,
      inFlightBlocks: (inFlight.get(id) ?? 0) * PROMPT_BLOCKS,
      queued: 0,
      kvBlocksFree: 1000,
      kvBlocksTotal: 8192,
    }));
    const c = process.cpuUsage();
    const s = performance.now();
    const pick = sel.select(requests[i]!, views);
    lat.push((performance.now() - s) * 1000);
    const cu = process.cpuUsage(c);
    cpuUs += cu.user + cu.system;
    reasons.set(pick.reason, (reasons.get(pick.reason) ?? 0) + 1);
    matched += pick.matchedBlocks;
    inFlight.set(pick.worker.id, (inFlight.get(pick.worker.id) ?? 0) + 1);
    // Keep ~4 requests in flight per worker: past that, the busiest worker finishes one.
    if (i >= WORKERS * 4) {
      const busiest = [...inFlight.entries()].sort((a, b) => b[1] - a[1])[0]!;
      inFlight.set(busiest[0], busiest[1] - 1);
    }
  }
  const d = dist(lat);
  results.push({
    policy: name,
    p50_us: d.p50,
    p99_us: d.p99,
    mean_us: d.mean,
    cpu_us_per_decision: cpuUs / requests.length,
    decisions_per_s: 1e6 / d.mean,
    mean_matched_blocks: matched / requests.length,
    reasons: Object.fromEntries(reasons),
  });
}

// --- removals: every worker evicts its blocks, one batch per stored batch ---
const removals: KvEventBatch[] = batches.map((b) => {
  const id = (eventIds.get(b.workerId) ?? 0) + 1;
  eventIds.set(b.workerId, id);
  const ev = b.events[0]!;
  const hashes = ev.type === "stored" ? ev.blocks.map((x) => x.hash).reverse() : [];
  return {
    v: 1,
    workerId: b.workerId,
    instanceId: "bench",
    eventId: id,
    events: [{ type: "removed", hashes }],
  };
});
const rc0 = process.cpuUsage();
t0 = performance.now();
for (const b of removals) follower.applyBatch(b);
const removeMs = performance.now() - t0;
const rcpu = process.cpuUsage(rc0);
const removeCpu = (rcpu.user + rcpu.system) / 1000;

const summary = {
  workers: WORKERS,
  indexed_blocks: indexedBlocks,
  block_size: BS,
  prompt_blocks: PROMPT_BLOCKS,
  requests: REQUESTS,
  chain_hash_us_per_prompt: hashUs,
  index_lookup_p50_us: lookupDist.p50,
  index_lookup_p99_us: lookupDist.p99,
  stored_block_events: storedEvents,
  stored_events_per_s: storedEvents / (storeMs / 1000),
  removed_events_per_s: storedEvents / (removeMs / 1000),
  stored_events_per_cpu_s: storedEvents / (storeCpu / 1000),
  removed_events_per_cpu_s: storedEvents / (removeCpu / 1000),
  load_average_1m: loadavg()[0]!,
  routing: results,
};
if (args.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
else {
  process.stdout.write(
    `router bench: ${indexedBlocks} distinct blocks indexed over ${WORKERS} workers (block ${BS}, prompts of ${PROMPT_BLOCKS} blocks)\n` +
      `  load average (1 min) ${summary.load_average_1m.toFixed(1)} on ${availableParallelism()} cores\n` +
      `  KV events applied: stored ${(summary.stored_events_per_s / 1e6).toFixed(2)}M blocks/s, removed ${(summary.removed_events_per_s / 1e6).toFixed(2)}M blocks/s (${storedEvents} block events)\n` +
      `  per CPU second: stored ${(summary.stored_events_per_cpu_s / 1e6).toFixed(2)}M blocks, removed ${(summary.removed_events_per_cpu_s / 1e6).toFixed(2)}M blocks\n` +
      `  chain hash of one prompt (${PROMPT_BLOCKS * BS} tokens): ${hashUs.toFixed(1)} us; index lookup alone p50 ${lookupDist.p50.toFixed(1)} us p99 ${lookupDist.p99.toFixed(1)} us\n`,
  );
  for (const r of results)
    process.stdout.write(
      `  ${String(r["policy"]).padEnd(13)} decision p50 ${(r["p50_us"] as number).toFixed(1)} us  p99 ${(r["p99_us"] as number).toFixed(1)} us  mean ${(r["mean_us"] as number).toFixed(1)} us  cpu ${(r["cpu_us_per_decision"] as number).toFixed(1)} us  matched ${(r["mean_matched_blocks"] as number).toFixed(1)} blocks  ${JSON.stringify(r["reasons"])}\n`,
    );
}
