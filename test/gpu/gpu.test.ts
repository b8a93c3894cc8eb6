/**
 * The GPU suite (run by test/gpu/run on a machine with NVIDIA GPUs; skipped everywhere else):
 *   1. CPU vs CUDA logits parity (TP=1): prefill rows and 8 greedy decode steps, tiny and tiny-gqa.
 *   2. TP=1 vs TP=N on CUDA (N = every divisor of the heads up to the visible GPU count), NCCL.
 *   3. KV export from CUDA, import into a CPU engine: the decode continues (same block layout).
 *   4. A short serving run: the launcher with RADIXSERVE_ENGINE_BACKEND=cuda answers a chat completion.
 * Tolerance: 2e-3 absolute on logits (cuBLAS reorders the f32 sums; the CPU golden test holds 1e-3
 * against transformers), greedy tokens identical.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { type ModelPresetName, makeModel } from "@radixserve/core";
import { type Engine, loadEngine } from "@radixserve/engine-native";

const ENABLED = process.env.RADIXSERVE_GPU_TESTS === "1";
const TOL = 2e-3;
const ROOT = new URL("../../", import.meta.url).pathname;

function visibleGpus(): number {
  const r = spawnSync("nvidia-smi", ["--query-gpu=name", "--format=csv,noheader"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim().split("\n").filter(Boolean).length : 0;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function prompt(n: number, seed: number): Int32Array {
  let s = seed;
  return Int32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 3 + (s % 31000);
  });
}

/** Prefill (all rows) then 8 greedy decode steps; returns every logits row and the tokens. */
async function trace(e: Engine, ids: Int32Array): Promise<{ rows: Float32Array[]; tokens: number[] }> {
  const table = Int32Array.from({ length: Math.ceil((ids.length + 9) / e.info.blockSize) }, (_, i) => i);
  const [o] = await e.step([
    { tokens: ids, startPos: 0, blockTable: table, sample: true, returnLogits: "all" },
  ]);
  const rows = [o!.logits!];
  const tokens = [o!.token];
  for (let i = 0; i < 8; i++) {
    const [d] = await e.step([
      {
        tokens: Int32Array.of(tokens[i]!),
        startPos: ids.length + i,
        blockTable: table,
        sample: true,
        returnLogits: "last",
      },
    ]);
    rows.push(d!.logits!);
    tokens.push(d!.token);
  }
  return { rows, tokens };
}

describe("GPU suite", {
  skip: ENABLED ? false : "set RADIXSERVE_GPU_TESTS=1 (test/gpu/run does) on a GPU machine",
}, () => {
  const gpus = ENABLED ? visibleGpus() : 0;
  const dirs = new Map<ModelPresetName, string>();
  let root = "";

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "rs-gpu-"));
    for (const preset of ["tiny", "tiny-gqa"] as const)
      dirs.set(preset, await makeModel({ preset, dtype: "f32", out: join(root, preset) }));
  });
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  for (const preset of ["tiny", "tiny-gqa"] as const) {
    it(`${preset}: CUDA logits equal CPU within ${TOL}, greedy tokens identical`, async () => {
      const dir = dirs.get(preset)!;
      const cpu = await loadEngine({ modelPath: dir, kvCacheBlocks: 32, threads: 2 });
      const gpu = await loadEngine({ modelPath: dir, kvCacheBlocks: 32, backend: "cuda" });
      try {
        assert.equal(gpu.info.backend, "cuda");
        for (const n of [5, 37, 130]) {
          const a = await trace(cpu, prompt(n, n));
          const b = await trace(gpu, prompt(n, n));
          for (const [i, r] of a.rows.entries())
            assert.ok(maxAbsDiff(r, b.rows[i]!) < TOL, `prompt ${n} row ${i}`);
          assert.deepEqual(b.tokens, a.tokens);
        }
      } finally {
        cpu.free();
        gpu.free();
      }
    });
  }

  it("TP=1 vs TP=N on the GPUs present (NCCL)", async (t) => {
    const dir = dirs.get("tiny")!; // 6 heads: TP 2, 3, 6
    const sizes = [2, 3, 6].filter((n) => n <= gpus);
    if (sizes.length === 0) return t.skip(`${gpus} GPU(s): TP needs at least 2`);
    const one = await loadEngine({ modelPath: dir, kvCacheBlocks: 32, backend: "cuda" });
    const ref = await trace(one, prompt(37, 1));
    one.free();
    for (const tp of sizes) {
      const e = await loadEngine({ modelPath: dir, kvCacheBlocks: 32, backend: "cuda", tpSize: tp });
      const got = await trace(e, prompt(37, 1));
      e.free();
      for (const [i, r] of got.rows.entries())
        assert.ok(maxAbsDiff(r, ref.rows[i]!) < TOL, `TP=${tp} row ${i}`);
      assert.deepEqual(got.tokens, ref.tokens, `TP=${tp} greedy tokens`);
    }
  });

  it("--tp beyond the visible GPUs fails in one line", async () => {
    const dir = dirs.get("tiny")!;
    const tp = [2, 3, 6].find((n) => n > gpus);
    if (tp === undefined) return;
    await assert.rejects(
      loadEngine({ modelPath: dir, kvCacheBlocks: 8, backend: "cuda", tpSize: tp }),
      new RegExp(`--tp ${tp} needs ${tp} CUDA devices, ${gpus} visible|NCCL`),
    );
  });

  it("KV blocks exported from CUDA continue on a CPU engine", async () => {
    const dir = dirs.get("tiny-gqa")!;
    const gpu = await loadEngine({ modelPath: dir, kvCacheBlocks: 16, backend: "cuda" });
    const cpu = await loadEngine({ modelPath: dir, kvCacheBlocks: 16, threads: 2 });
    try {
      const ids = prompt(40, 3);
      const table = Int32Array.of(0, 1, 2);
      await gpu.step([{ tokens: ids, startPos: 0, blockTable: table, sample: false }]);
      await cpu.importBlocks(table, await gpu.exportBlocks(table));
      const next = {
        tokens: Int32Array.of(ids[0]!),
        startPos: 40,
        blockTable: table,
        sample: true,
        returnLogits: "last" as const,
      };
      const [a] = await gpu.step([next]);
      const [b] = await cpu.step([next]);
      assert.ok(maxAbsDiff(a!.logits!, b!.logits!) < TOL);
      assert.equal(a!.token, b!.token);
    } finally {
      gpu.free();
      cpu.free();
    }
  });

  it("serving: the launcher on CUDA answers a chat completion", async () => {
    const cli = join(ROOT, "packages", "cli", "dist", "cli.js");
    const proc = spawn(process.execPath, [cli, "start", "--port", "0", "--kv-cache-blocks", "256"], {
      env: { ...process.env, RADIXSERVE_ENGINE_BACKEND: "cuda", RADIXSERVE_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    proc.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    try {
      const ready = await new Promise<{ baseUrl: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`launcher not ready:\n${err}`)), 180_000);
        createInterface({ input: proc.stdout! }).on("line", (line) => {
          if (!line.startsWith("RADIXSERVE_READY ")) return;
          clearTimeout(timer);
          resolve(JSON.parse(line.slice("RADIXSERVE_READY ".length)));
        });
        proc.once("exit", (code) => reject(new Error(`launcher exited ${code}:\n${err}`)));
      });
      const res = await fetch(`${ready.baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "default",
          messages: [{ role: "user", content: "hi" }],
          max_tokens: 16,
        }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const body = (await res.json()) as { usage: { completion_tokens: number } };
      assert.ok(body.usage.completion_tokens > 0);
    } finally {
      proc.kill("SIGTERM");
    }
  });
});
