import assert from "node:assert/strict";
import { test } from "node:test";
import { blockHashSeed } from "@radixserve/core";
import { Registry } from "prom-client";
import { EngineLoop, type StepTiming } from "../src/scheduler/engine-loop.js";
import type { RequestEvent } from "../src/scheduler/request.js";
import { Scheduler } from "../src/scheduler/scheduler.js";
import { StepMetrics } from "../src/scheduler/step-metrics.js";
import { FakeEngine } from "./scheduler-fake-engine.js";

test("step metrics: the engine loop reports every step's timing, and the counters add up to what ran", async () => {
  const s = new Scheduler({
    blockSize: 4,
    numBlocks: 128,
    maxRunningRequests: 4,
    maxQueuedRequests: 64,
    chunkedPrefillSize: 8,
    maxPrefillTokens: 16,
    maxContextLength: 256,
    vocabSize: 500,
    eosTokenIds: [],
    enablePrefixCache: false,
    hashSeed: blockHashSeed("step-metrics"),
  });
  const e = new FakeEngine(128, 4, 500);
  const registry = new Registry();
  const metrics = new StepMetrics(registry);
  const timings: StepTiming[] = [];
  let prefill = 0;
  let decode = 0;
  const loop = new EngineLoop(e, s, undefined, {
    onStep: (b, seconds, timing) => {
      assert.ok(timing, "every completed step has a timing");
      timings.push(timing);
      prefill += b.numPrefillTokens;
      decode += b.numDecodeTokens;
      metrics.observe(b, seconds, timing);
    },
  });
  loop.start();
  const prompts = [12, 17, 9];
  await Promise.all(
    prompts.map(
      (len, i) =>
        new Promise<RequestEvent>((resolve) => {
          const r = s.submit(
            {
              id: `r${i}`,
              inputIds: Array.from({ length: len }, (_, j) => j + 1),
              sampling: {},
              maxNewTokens: 5,
            },
            (ev) => {
              if (ev.type !== "token") resolve(ev);
            },
          );
          assert.ok(r.ok);
        }),
    ),
  );
  await loop.stop();
  // Every prompt token runs once and each request decodes maxNewTokens - 1 tokens; the scheduler
  // runs a prompt's last single token (17 = 8 + 8 + 1) decode-shaped, so it counts as decode.
  assert.equal(prefill + decode, 12 + 17 + 9 + 3 * 4);
  assert.ok(decode >= 3 * 4, `decode tokens ${decode}`);
  for (const t of timings)
    for (const v of Object.values(t)) assert.ok(Number.isFinite(v) && v >= 0, `phase time ${v}`);
  const json = await registry.getMetricsAsJSON();
  const value = (name: string, label: Record<string, string>) =>
    json
      .find((m) => m.name === name)
      ?.values.find((v) => Object.entries(label).every(([k, x]) => v.labels[k] === x))?.value;
  assert.equal(value("radixserve_step_tokens_total", { kind: "prefill" }), prefill);
  assert.equal(value("radixserve_step_tokens_total", { kind: "decode" }), decode);
  const steps =
    (value("radixserve_steps_total", { mix: "prefill" }) ?? 0) +
    (value("radixserve_steps_total", { mix: "decode" }) ?? 0) +
    (value("radixserve_steps_total", { mix: "mixed" }) ?? 0);
  assert.equal(steps, timings.length);
  const count = json
    .find((m) => m.name === "radixserve_step_seconds")
    ?.values.find(
      (v) => (v as { metricName?: string }).metricName === "radixserve_step_seconds_count",
    )?.value;
  assert.equal(count, timings.length);
});
