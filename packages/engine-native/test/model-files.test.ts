// Loading model directories: config.json parsing, sharded weights, and clear errors naming the
// file and the problem for missing, corrupt or inconsistent files.
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { EngineError, loadEngine, readModelConfig } from "../src/index.js";
import { blocks, maxAbsDiff, prefillLogits, scratchDir, testModel, tokens } from "./helpers.js";

/** A copy of a generated model directory that a test may damage. */
async function copyModel(preset: "tiny" | "tiny-gqa" = "tiny"): Promise<string> {
  const src = await testModel(preset);
  const dst = scratchDir(preset);
  for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(src, f), join(dst, f));
  return dst;
}

function editConfig(dir: string, edit: (c: Record<string, unknown>) => void): void {
  const p = join(dir, "config.json");
  const c = JSON.parse(readFileSync(p, "utf8")) as Record<string, unknown>;
  edit(c);
  writeFileSync(p, JSON.stringify(c));
}

const load = (modelPath: string) => loadEngine({ modelPath, kvCacheBlocks: 4, threads: 1 });

describe("readModelConfig", () => {
  it("parses GQA, head_dim, llama3 rope scaling and eos ids", async () => {
    const c = readModelConfig(await testModel("tiny-gqa"));
    assert.equal(c.architecture, "LlamaForCausalLM");
    assert.equal(c.numHeads, 6);
    assert.equal(c.numKvHeads, 2);
    assert.equal(c.headDim, 48);
    assert.equal(c.maxPositionEmbeddings, 2048);
    assert.deepEqual(c.ropeScaling, {
      type: "llama3",
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 256,
    });
    assert.deepEqual(c.eosTokenIds, [2]);
  });

  it("parses Qwen2's biases and tied embeddings", async () => {
    const c = readModelConfig(await testModel("tiny-qwen2"));
    assert.equal(c.architecture, "Qwen2ForCausalLM");
    assert.equal(c.qkvBias, true);
    assert.equal(c.oBias, false);
    assert.equal(c.tieWordEmbeddings, true);
    assert.equal(c.vocabSize, 32064);
  });

  it("names the file and the problem", async () => {
    const dir = await copyModel();
    editConfig(dir, (c) => {
      c["architectures"] = ["GPT2LMHeadModel"];
    });
    assert.throws(
      () => readModelConfig(dir),
      (e: unknown) =>
        e instanceof EngineError &&
        e.code === "model_unsupported" &&
        e.message.includes(join(dir, "config.json")) &&
        e.message.includes('architecture "GPT2LMHeadModel" is not supported'),
    );
    editConfig(dir, (c) => {
      c["architectures"] = ["MistralForCausalLM"];
      c["num_key_value_heads"] = 4;
    });
    assert.throws(
      () => readModelConfig(dir),
      /num_attention_heads 6 is not a multiple of num_key_value_heads 4/,
    );
    writeFileSync(join(dir, "config.json"), "{ not json");
    assert.throws(() => readModelConfig(dir), /config\.json: not valid JSON/);
    assert.throws(
      () => readModelConfig(join(dir, "nope")),
      /nope\/config\.json: cannot read the model config/,
    );
  });
});

describe("loadEngine model files", () => {
  it("loads sharded weights (model.safetensors.index.json) with the same logits", async () => {
    const prompt = tokens(19, 4);
    const one = await load(await testModel("tiny"));
    const sharded = await load(await testModel("tiny", "f32", 3));
    const d = maxAbsDiff(
      await prefillLogits(one, prompt, blocks(0, 2)),
      await prefillLogits(sharded, prompt, blocks(0, 2)),
    );
    one.free();
    sharded.free();
    assert.equal(d, 0);
  });

  it("a missing weights file, a missing tensor or a wrong shape is a clear error", async () => {
    const dir = await copyModel();
    rmSync(join(dir, "model.safetensors"));
    await assert.rejects(load(dir), /no model\.safetensors or model\.safetensors\.index\.json found/);

    const shapes = await copyModel();
    editConfig(shapes, (c) => {
      c["intermediate_size"] = 512;
    });
    await assert.rejects(
      load(shapes),
      /model\.safetensors: tensor model\.layers\.0\.mlp\.gate_proj\.weight has shape \[768, 288\], config\.json implies \[512, 288\]/,
    );

    const missing = await copyModel();
    editConfig(missing, (c) => {
      c["attention_bias"] = true;
    });
    await assert.rejects(load(missing), /missing tensor model\.layers\.0\.self_attn\.q_proj\.bias/);
  });

  it("a corrupt or truncated safetensors file is a clear error, never a crash", async () => {
    const dir = await copyModel();
    const file = join(dir, "model.safetensors");
    const good = readFileSync(file);

    truncateSync(file, good.length - 1000);
    await assert.rejects(load(dir), (e: unknown) => {
      assert.ok(e instanceof EngineError && e.code === "model_invalid");
      assert.match(
        e.message,
        /model\.safetensors: corrupt safetensors file: tensor .* past the end of the file/,
      );
      return true;
    });

    const bad = Buffer.from(good);
    bad.writeBigUInt64LE(1n << 40n, 0);
    writeFileSync(file, bad);
    await assert.rejects(
      load(dir),
      /corrupt safetensors file: header length 1099511627776 exceeds the file size/,
    );

    const garbled = Buffer.from(good);
    garbled.write("!!!!", 8);
    writeFileSync(file, garbled);
    await assert.rejects(load(dir), /corrupt safetensors file: header is not valid JSON/);

    writeFileSync(file, Buffer.alloc(4));
    await assert.rejects(load(dir), /file is 4 bytes, shorter than the 8-byte header length/);
  });

  it("sizes the KV pool from memFractionStatic, never below one full context", async () => {
    const e = await loadEngine({ modelPath: await testModel(), memFractionStatic: 0.001, threads: 1 });
    // 0.1% of the machine's memory minus ~98 MB of weights is nothing: the floor is 2048 / 16 blocks.
    assert.ok(e.info.numBlocks >= 128, `numBlocks ${e.info.numBlocks}`);
    assert.equal(e.info.bytesPerBlock, 6 * 2 * 6 * 16 * 48 * 4);
    e.free();
    await assert.rejects(
      loadEngine({ modelPath: await testModel(), memFractionStatic: 1.5 }),
      /memFractionStatic = 1\.5 must be in \(0, 1\]/,
    );
  });

  it("rejects options out of range", async () => {
    const dir = await testModel();
    await assert.rejects(
      loadEngine({ modelPath: dir, kvCacheBlocks: 0 }),
      /kvCacheBlocks = 0 must be an integer >= 1/,
    );
    await assert.rejects(loadEngine({ modelPath: dir, tpSize: 4, tpRank: 4 }), /tpRank 4 must be < tpSize 4/);
    await assert.rejects(
      loadEngine({ modelPath: dir, kvCacheBlocks: 4, simd: "sse" as "avx2" }),
      /unknown simd level 'sse'/,
    );
  });
});
