import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blockHashSeed, chainHashes } from "@radixserve/core";
import { KvIndex } from "../src/kv-index/kv-index.js";
import { CacheAwarePolicy } from "../src/policies/cache-aware.js";
import { KvCostPolicy } from "../src/policies/kv-cost.js";
import type { PickContext, WorkerView } from "../src/policies/policy.js";
import { createPolicy, describePolicies, parsePolicySpec, policyNames } from "../src/policies/registry.js";
import { RouteSelector } from "../src/policies/route-selector.js";

const SEED = blockHashSeed("policy-test-model");

function worker(id: string, over: Partial<WorkerView> = {}): WorkerView {
  return { id, inFlight: 0, inFlightBlocks: 0, queued: 0, kvBlocksFree: 100, kvBlocksTotal: 100, ...over };
}

function prompt(group: number, len: number): number[] {
  return Array.from({ length: len }, (_, i) => (group * 1000 + i) % 32000);
}

function ctx(
  hashes: string[],
  workers: WorkerView[],
  matches: Record<string, number> = {},
  key = "k",
): PickContext {
  return { request: { key, hashes }, workers, matches: () => new Map(Object.entries(matches)) };
}

describe("policies/registry", () => {
  it("lists the five policies and describes their knobs", () => {
    assert.deepEqual(policyNames().sort(), [
      "cache_aware",
      "kv_cost",
      "power_of_two",
      "random",
      "round_robin",
    ]);
    assert.match(describePolicies(), /cache_threshold=\[0\.\.1\] \(default 0\.3\)/);
  });

  it("parses name:knob=value and validates ranges with clear errors", () => {
    assert.deepEqual(parsePolicySpec("cache_aware:cache_threshold=0.5, balance_abs_threshold=4").knobs, {
      cache_threshold: 0.5,
      balance_abs_threshold: 4,
    });
    assert.throws(() => parsePolicySpec("nope"), /unknown routing policy 'nope' \(policies: cache_aware/);
    assert.throws(
      () => parsePolicySpec("cache_aware:cache_threshold=2"),
      /must be a number in \[0, 1\], got 2/,
    );
    assert.throws(
      () => parsePolicySpec("cache_aware:bogus=1"),
      /has no knob 'bogus' \(knobs: cache_threshold/,
    );
    assert.throws(() => parsePolicySpec("random:seed=1.5"), /must be an integer/);
    assert.throws(() => parsePolicySpec("kv_cost:temperature"), /'temperature' is not knob=number/);
    assert.throws(() => parsePolicySpec("round_robin:x=1"), /knobs: none/);
  });

  it("creates a fresh instance per call (round_robin state is not shared)", () => {
    const a = createPolicy("round_robin");
    const b = createPolicy("round_robin");
    const ws = [worker("a"), worker("b")];
    assert.equal(a.pick(ctx([], ws)).worker.id, "a");
    assert.equal(a.pick(ctx([], ws)).worker.id, "b");
    assert.equal(b.pick(ctx([], ws)).worker.id, "a");
  });
});

describe("policies/cache_aware", () => {
  const policy = new CacheAwarePolicy({
    cacheThreshold: 0.5,
    balanceAbsThreshold: 4,
    balanceRelThreshold: 1.5,
  });
  const hashes = chainHashes(SEED, prompt(1, 64), 16); // 4 blocks

  it("picks the longest cached prefix when the match ratio reaches the threshold", () => {
    const ws = [worker("a"), worker("b", { inFlight: 2 }), worker("c")];
    const p = policy.pick(ctx(hashes, ws, { b: 3, c: 1 }));
    assert.equal(p.worker.id, "b");
    assert.equal(p.reason, "cache_hit");
    assert.equal(p.matchedBlocks, 3);
  });

  it("below the threshold picks the least loaded, not the smallest tree", () => {
    // a holds nothing (smallest tree) but is busy; SGLang would send the miss to a.
    const ws = [worker("a", { inFlight: 3 }), worker("b", { inFlight: 1 }), worker("c", { inFlight: 2 })];
    const p = policy.pick(ctx(hashes, ws, { c: 1 })); // 1/4 < 0.5
    assert.equal(p.worker.id, "b");
    assert.equal(p.reason, "least_loaded");
  });

  it("the imbalance guard overrides the cache only past both thresholds", () => {
    const flooded = [worker("a", { inFlight: 10 }), worker("b", { inFlight: 1 })];
    const p = policy.pick(ctx(hashes, flooded, { a: 4 }));
    assert.equal(p.worker.id, "b");
    assert.equal(p.reason, "imbalance");
    // gap 4 is not > 4: not imbalanced, the cache wins.
    const close = [worker("a", { inFlight: 5 }), worker("b", { inFlight: 1 })];
    assert.equal(policy.pick(ctx(hashes, close, { a: 4 })).reason, "cache_hit");
    // gap 6 > 4 but 16 <= 1.5 x 11: relative threshold not met, the cache wins.
    const rel = [worker("a", { inFlight: 16 }), worker("b", { inFlight: 11 })];
    assert.equal(policy.pick(ctx(hashes, rel, { a: 4 })).reason, "cache_hit");
  });

  it("counts the worker's queue in its load", () => {
    const ws = [worker("a", { queued: 9 }), worker("b")];
    assert.equal(policy.pick(ctx(hashes, ws, { a: 4 })).reason, "imbalance");
  });

  it("breaks ties deterministically: equal match -> less loaded -> more free blocks -> id", () => {
    const ws = [worker("a", { inFlight: 1 }), worker("b"), worker("c")];
    assert.equal(policy.pick(ctx(hashes, ws, { a: 4, b: 4, c: 4 })).worker.id, "b");
    const free = [worker("a"), worker("b", { kvBlocksFree: 50 }), worker("c", { kvBlocksFree: 200 })];
    assert.equal(policy.pick(ctx([], free)).worker.id, "c");
    assert.equal(
      policy.pick(
        ctx(
          [],
          [worker("b"), worker("a")].sort((x, y) => (x.id < y.id ? -1 : 1)),
        ),
      ).worker.id,
      "a",
    );
  });

  it("a prompt shorter than one block goes to the least loaded", () => {
    const p = policy.pick(ctx([], [worker("a", { inFlight: 1 }), worker("b")]));
    assert.equal(p.worker.id, "b");
    assert.equal(p.reason, "least_loaded");
    assert.equal(p.matchedBlocks, 0);
  });
});

describe("policies/kv_cost", () => {
  const hashes = chainHashes(SEED, prompt(2, 160), 16); // 10 blocks

  it("trades blocks to prefill against decode load by overlap_weight", () => {
    const ws = [worker("a", { inFlightBlocks: 6 }), worker("b")];
    const m = { a: 8 };
    // weight 1: a = 2 + 6 = 8, b = 10 + 0 = 10 -> a
    const p1 = new KvCostPolicy({ overlapWeight: 1, temperature: 0, seed: 0 });
    assert.deepEqual(p1.costs(ctx(hashes, ws, m)), [8, 10]);
    assert.equal(p1.pick(ctx(hashes, ws, m)).worker.id, "a");
    assert.equal(p1.pick(ctx(hashes, ws, m)).reason, "min_cost");
    // weight 0.5: a = 1 + 6 = 7, b = 5 -> b
    const p2 = new KvCostPolicy({ overlapWeight: 0.5, temperature: 0, seed: 0 });
    assert.equal(p2.pick(ctx(hashes, ws, m)).worker.id, "b");
  });

  it("counts each queued request as one more prompt of this size", () => {
    const p = new KvCostPolicy({ overlapWeight: 1, temperature: 0, seed: 0 });
    assert.deepEqual(p.costs(ctx(hashes, [worker("a", { queued: 2 }), worker("b")], { a: 10 })), [20, 10]);
  });

  it("with temperature samples by the request key: same key same pick, spread over keys", () => {
    const p = new KvCostPolicy({ overlapWeight: 1, temperature: 1, seed: 0 });
    const ws = [worker("a"), worker("b"), worker("c")];
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const c = ctx(hashes, ws, { a: 10, b: 5 }, `req-${i}`);
      const id = p.pick(c).worker.id;
      assert.equal(p.pick(c).worker.id, id);
      assert.equal(p.pick(c).reason, "sampled");
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    // a (cost 0) is most likely, c (cost 10 = normalized 1) least, all three are drawn.
    assert.ok((counts.get("a") ?? 0) > (counts.get("b") ?? 0));
    assert.ok((counts.get("b") ?? 0) > (counts.get("c") ?? 0));
    assert.ok((counts.get("c") ?? 0) > 0);
  });
});

describe("policies/round_robin, random, power_of_two", () => {
  const ws = [worker("a"), worker("b"), worker("c")];

  it("round_robin cycles in id order", () => {
    const p = createPolicy("round_robin");
    assert.deepEqual(
      [0, 1, 2, 3].map(() => p.pick(ctx([], ws)).worker.id),
      ["a", "b", "c", "a"],
    );
  });

  it("random is seeded by the request key and covers every worker", () => {
    const p = createPolicy("random");
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) {
      const id = p.pick(ctx([], ws, {}, `r${i}`)).worker.id;
      assert.equal(p.pick(ctx([], ws, {}, `r${i}`)).worker.id, id);
      seen.add(id);
    }
    assert.equal(seen.size, 3);
    assert.notDeepEqual(
      Array.from(
        { length: 20 },
        (_, i) => createPolicy("random:seed=1").pick(ctx([], ws, {}, `r${i}`)).worker.id,
      ),
      Array.from({ length: 20 }, (_, i) => p.pick(ctx([], ws, {}, `r${i}`)).worker.id),
    );
  });

  it("power_of_two never picks the busiest of three", () => {
    const p = createPolicy("power_of_two");
    const busy = [worker("a", { inFlight: 9 }), worker("b", { inFlight: 1 }), worker("c", { inFlight: 2 })];
    for (let i = 0; i < 50; i++) assert.notEqual(p.pick(ctx([], busy, {}, `k${i}`)).worker.id, "a");
    assert.equal(p.pick(ctx([], [worker("z")])).worker.id, "z");
  });
});

describe("policies/route-selector", () => {
  it("two replicas fed the same events and requests make the same choices", () => {
    const replicas = [0, 1].map(() => {
      const index = new KvIndex();
      return {
        index,
        sel: new RouteSelector({ policy: createPolicy("cache_aware:balance_abs_threshold=3"), index }),
      };
    });
    // The same KV events reach both (a worker already holds group 0's prefix).
    for (const r of replicas)
      r.index.applyStored(
        "w2",
        chainHashes(SEED, prompt(0, 64), 16).map((hash, i, a) => ({
          hash,
          parent: i > 0 ? a[i - 1]! : null,
        })),
      );
    const loads = new Map<string, number>();
    const decisions: string[][] = [[], []];
    for (let i = 0; i < 80; i++) {
      const hashes = chainHashes(SEED, [...prompt(i % 5, 64), i], 16);
      const ws = ["w3", "w1", "w2", "w0"].map((id) => worker(id, { inFlight: loads.get(id) ?? 0 }));
      for (const [k, r] of replicas.entries())
        decisions[k]!.push(r.sel.select({ key: `req-${i}`, hashes }, ws).worker.id);
      const chosen = decisions[0]![i]!;
      loads.set(chosen, (loads.get(chosen) ?? 0) + 1);
      if (i % 3 === 0) for (const id of loads.keys()) loads.set(id, Math.max(0, loads.get(id)! - 1));
    }
    assert.deepEqual(decisions[0], decisions[1]);
    // Group 0 (i % 5 == 0) went to w2, which held its prefix, unless the guard fired.
    assert.equal(decisions[0]![0], "w2");
    assert.ok(new Set(decisions[0]).size >= 3, "requests spread over the workers");
  });

  it("records the chosen route so the next request with that prefix follows it", () => {
    const index = new KvIndex();
    const reasons: string[] = [];
    const sel = new RouteSelector({
      policy: createPolicy("cache_aware"),
      index,
      onDecision: (_p, reason) => reasons.push(reason),
    });
    const ws = [worker("a"), worker("b")];
    const first = sel.select({ key: "1", hashes: chainHashes(SEED, prompt(7, 96), 16) }, ws);
    const second = sel.select(
      { key: "2", hashes: chainHashes(SEED, [...prompt(7, 96), ...prompt(8, 32)], 16) },
      [
        worker("a", { inFlight: first.worker.id === "a" ? 1 : 0 }),
        worker("b", { inFlight: first.worker.id === "b" ? 1 : 0 }),
      ],
    );
    assert.equal(second.worker.id, first.worker.id);
    assert.deepEqual(reasons, ["least_loaded", "cache_hit"]);
    assert.equal(second.matchedBlocks, 6);
  });
});
