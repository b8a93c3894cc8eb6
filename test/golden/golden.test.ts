/**
 * Golden correctness: the native engine against Hugging Face transformers.
 *
 * Each fixture in ./fixtures was written by tools/oracle/golden.py (transformers + torch, CPU,
 * float32, eager attention, no KV cache) on a model made by makeModel, or on a checkpoint that
 * transformers 5 wrote itself with save_pretrained (committed under ./checkpoints: rope_parameters
 * with llama3 scaling, explicit head_dim, Qwen2). This test remakes the model (or takes the
 * checkpoint), checks its sha256 (so fixtures and model files cannot drift apart silently), loads
 * it with the engine and compares:
 *   - every prefill row of 3 prompts (5, 37, 130 tokens): the fixture's top-16 ids and 32 probe
 *     ids within LOGIT_TOL, the row's sum and sum of squares within SUM_TOL / SUMSQ_RTOL;
 *   - 8 greedy decode steps run one token at a time through the paged KV cache: identical tokens
 *     and each step's logits within the same tolerances.
 * Tensor parallelism: tiny-f32 and tiny-gqa also run at TP=2 (2 CPU ranks) against the same fixtures.
 * No Python is needed to run it.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createReadStream, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ModelDtype, type ModelPresetName, makeModel } from "@radixserve/core";
import { type Engine, loadEngine } from "@radixserve/engine-native";
import { checkRow, LOGIT_TOL, type Row, worstSeen } from "./row-check.js";

const BLOCK_SIZE = 16;

interface Fixture {
  case: string;
  /** The model maker preset, or null for a committed checkpoint. */
  preset: ModelPresetName | null;
  /** Repository-relative directory of a committed checkpoint. */
  checkpoint?: string | null;
  dtype: ModelDtype;
  seed: number;
  model_sha256: string;
  command: string;
  config: { vocab_size: number };
  probe_ids: number[];
  prompts: { ids: number[]; prefill: Row[]; greedy: { tokens: number[]; steps: Row[] } }[];
}

const FIXTURES = new URL("./fixtures/", import.meta.url);
const REPO_ROOT = new URL("../../", import.meta.url);

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (d) => h.update(d))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });
}

const fixtureFiles = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".json") && !f.startsWith("tokenizer-")) // tokenizer-*: tokenizer-golden.test.ts
  .sort();

describe("golden logits vs transformers", () => {
  after(() => {
    console.log(
      `golden: worst |logit error| ${worstSeen.logit.toExponential(2)}, ` +
        `worst |row sum error|/vocab ${worstSeen.sumPerLogit.toExponential(2)}, ` +
        `worst relative sum-of-squares error ${worstSeen.sumsqRel.toExponential(2)}`,
    );
  });

  test("fixtures exist", () => {
    assert.ok(fixtureFiles.length >= 7, `expected the 7 golden fixtures in ${FIXTURES.pathname}`);
  });

  test("the row check rejects a logit or a row checksum outside tolerance", () => {
    const vocab = 64;
    const row = Float32Array.from({ length: vocab }, (_, i) => Math.sin(i) * 3);
    const ids = [...row.keys()].sort((a, b) => row[b]! - row[a]!);
    const sum = row.reduce((a, b) => a + b, 0);
    const sumsq = row.reduce((a, b) => a + b * b, 0);
    const ref: Row = {
      top: ids.slice(0, 4).map((i) => [i, row[i]!] as [number, number]),
      probes: [row[0]!, row[63]!],
      sum,
      sumsq,
      gap: row[ids[0]!]! - row[ids[1]!]!,
    };
    checkRow(row, ref, [0, 63], "exact", null);
    const off = Float32Array.from(row);
    off[63]! += 2 * LOGIT_TOL;
    assert.throws(() => checkRow(off, ref, [0, 63], "probe", null), /probe: logit of token 63 is off/);
    const shifted = Float32Array.from(row);
    shifted[5]! += 1; // not a checked id, but the checksum sees it
    assert.throws(() => checkRow(shifted, ref, [0, 63], "unchecked", null), /unchecked: row sum/);
  });

  const runs = fixtureFiles.flatMap((file) => {
    const fx = JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8")) as Fixture;
    const variants = [{ fx, label: "", shards: 1, tpSize: 1 }];
    // The loader's sharded path (model.safetensors.index.json + 2 files) on the same weights.
    if (fx.case === "tiny-f32") variants.push({ fx, label: ", 2 shards", shards: 2, tpSize: 1 });
    // Tensor parallelism (2 CPU ranks, all-reduce after o_proj/down_proj) against the same oracle;
    // tiny-gqa has 2 KV heads, so each rank holds one.
    if (fx.case === "tiny-f32" || fx.case === "tiny-gqa")
      variants.push({ fx, label: ", TP=2", shards: 1, tpSize: 2 });
    return variants;
  });

  for (const { fx, label, shards, tpSize } of runs) {
    describe(`${fx.case} (${fx.checkpoint ?? fx.preset}, ${fx.dtype}${label})`, () => {
      let dir: string;
      let scratch: string | undefined;
      let engine: Engine | undefined;

      before(async () => {
        if (fx.checkpoint) {
          dir = new URL(fx.checkpoint, REPO_ROOT).pathname;
        } else {
          assert.ok(fx.preset, `${fx.case}: a fixture names a preset or a checkpoint`);
          dir = scratch = await mkdtemp(join(tmpdir(), `rs-golden-${fx.case}-`));
          await makeModel({ preset: fx.preset, dtype: fx.dtype, seed: fx.seed, out: dir, shards });
        }
        // Sharded files hold the very same tensors (model-make-model.test.ts checks it); the
        // unsharded run of the same fixture checks the hash.
        if (shards === 1) {
          const sha = await sha256File(join(dir, "model.safetensors"));
          assert.equal(
            sha,
            fx.model_sha256,
            `model.safetensors of ${fx.case} differs from the one the fixture was made from: the model maker ` +
              "or the checkpoint changed, so regenerate the fixtures (tools/oracle/README.md)",
          );
        }
        // Each prompt gets its own block range; the largest needs ceil((130 + 9) / 16) = 9 blocks.
        engine = await loadEngine({
          modelPath: dir,
          kvCacheBlocks: 10 * fx.prompts.length,
          blockSize: BLOCK_SIZE,
          threads: 2,
          tpSize,
        });
        assert.equal(engine.info.vocabSize, fx.config.vocab_size);
        assert.equal(engine.info.tpSize, tpSize);
      });

      after(async () => {
        engine?.free();
        if (scratch) await rm(scratch, { recursive: true, force: true });
      });

      fx.prompts.forEach((prompt, p) => {
        test(`prompt of ${prompt.ids.length} tokens: prefill logits and 8 greedy steps match`, async () => {
          const eng = engine!;
          const vocab = eng.info.vocabSize;
          const steps = prompt.greedy.steps.length;
          const nBlocks = Math.ceil((prompt.ids.length + steps) / BLOCK_SIZE);
          const blockTable = Int32Array.from({ length: nBlocks }, (_, i) => p * 10 + i);

          const [out] = await eng.step([
            {
              tokens: Int32Array.from(prompt.ids),
              startPos: 0,
              blockTable,
              sample: true,
              returnLogits: "all",
            },
          ]);
          assert.ok(out?.logits, "prefill returned logits");
          assert.equal(out.logits.length, prompt.ids.length * vocab);
          prompt.prefill.forEach((ref, pos) => {
            checkRow(
              out.logits!.subarray(pos * vocab, (pos + 1) * vocab),
              ref,
              fx.probe_ids,
              `prefill position ${pos}`,
            );
          });

          // Greedy decode, one token at a time through the paged KV cache. Each step must pick the
          // reference token; feeding the reference keeps later steps comparable if one fails.
          const want = prompt.greedy.tokens;
          assert.equal(out.token, want[0], "greedy token after prefill");
          for (let i = 0; i < steps; i++) {
            const [o] = await eng.step([
              {
                tokens: Int32Array.of(want[i]!),
                startPos: prompt.ids.length + i,
                blockTable,
                sample: true,
                returnLogits: "last",
              },
            ]);
            assert.ok(o?.logits, "decode step returned logits");
            assert.equal(o.logits.length, vocab);
            checkRow(o.logits, prompt.greedy.steps[i]!, fx.probe_ids, `decode step ${i}`);
            assert.equal(o.token, want[i + 1], `greedy token at decode step ${i}`);
          }
        });
      });
    });
  }
});
