import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../src/model/float-convert.js";
import { ensureDefaultModel, makeModel, makeModelCli } from "../src/model/make-model.js";
import { MODEL_PRESETS, presetParamCount } from "../src/model/presets.js";

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Parses a safetensors file independently of the writer. */
async function readSafetensors(path: string): Promise<{ header: Record<string, HeaderEntry>; data: Buffer }> {
  const buf = await readFile(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<string, HeaderEntry>;
  assert.equal((8 + n) % 8, 0, "data must start 8-byte aligned");
  return { header, data: buf.subarray(8 + n) };
}

function f32At(st: { header: Record<string, HeaderEntry>; data: Buffer }, name: string): Float32Array {
  const e = st.header[name]!;
  const bytes = st.data.subarray(e.data_offsets[0], e.data_offsets[1]);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "rs-model-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("model maker", () => {
  test("tiny f32 writes a complete HF directory with HF tensor names and shapes", async () => {
    const out = await makeModel({ preset: "tiny", out: join(dir, "tiny") });
    const files = (await readdir(out)).sort();
    assert.deepEqual(files, [
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    const config = JSON.parse(await readFile(join(out, "config.json"), "utf8"));
    assert.deepEqual(config.architectures, ["LlamaForCausalLM"]);
    assert.equal(config.hidden_size, 288);
    assert.equal(config.num_key_value_heads, 6);
    const st = await readSafetensors(join(out, "model.safetensors"));
    assert.deepEqual(st.header["model.embed_tokens.weight"]?.shape, [32000, 288]);
    assert.deepEqual(st.header["model.layers.5.mlp.down_proj.weight"]?.shape, [288, 768]);
    assert.deepEqual(st.header["lm_head.weight"]?.shape, [32000, 288]);
    assert.equal(st.header["model.layers.0.self_attn.q_proj.bias"], undefined);
    // The data section has no holes and no slack.
    const ends = Object.entries(st.header)
      .filter(([k]) => k !== "__metadata__")
      .map(([, v]) => v.data_offsets);
    ends.sort((a, b) => a[0] - b[0]);
    let expect = 0;
    for (const [b, e] of ends) {
      assert.equal(b, expect);
      expect = e;
    }
    assert.equal(expect, st.data.length);
    const params = ends.reduce((a, [b, e]) => a + (e - b) / 4, 0);
    assert.equal(params, presetParamCount(MODEL_PRESETS.tiny));
    // Norm weights near 1 with spread; projections centred on 0.
    const norm = f32At(st, "model.norm.weight");
    assert.ok(norm.every((v) => v > 0.79 && v < 1.21));
    assert.ok(Math.max(...norm) - Math.min(...norm) > 0.2);
    const tok = JSON.parse(await readFile(join(out, "tokenizer_config.json"), "utf8"));
    assert.match(tok.chat_template, /\[INST\]/);
  });

  test("same preset/dtype/seed gives identical bytes; another seed differs", async () => {
    const a = await makeModel({ preset: "tiny-gqa", out: join(dir, "a"), dtype: "bf16" });
    const b = await makeModel({ preset: "tiny-gqa", out: join(dir, "b"), dtype: "bf16" });
    const c = await makeModel({ preset: "tiny-gqa", out: join(dir, "c"), dtype: "bf16", seed: 7 });
    const sha = async (d: string) =>
      createHash("sha256")
        .update(await readFile(join(d, "model.safetensors")))
        .digest("hex");
    assert.equal(await sha(a), await sha(b));
    assert.notEqual(await sha(a), await sha(c));
    const config = JSON.parse(await readFile(join(a, "config.json"), "utf8"));
    assert.equal(config.num_key_value_heads, 2);
    assert.equal(config.rope_scaling.rope_type, "llama3");
    const st = await readSafetensors(join(a, "model.safetensors"));
    assert.deepEqual(st.header["model.layers.0.self_attn.k_proj.weight"]?.shape, [96, 288]);
  });

  test("bf16 weights are exactly the f32 weights rounded to nearest even", async () => {
    const f = await readSafetensors(join(dir, "tiny", "model.safetensors"));
    const out = await makeModel({ preset: "tiny", out: join(dir, "tiny-bf16"), dtype: "bf16" });
    const h = await readSafetensors(join(out, "model.safetensors"));
    const name = "model.layers.2.self_attn.o_proj.weight";
    assert.equal(h.header[name]?.dtype, "BF16");
    const want = f32ToBf16(f32At(f, name));
    const e = h.header[name]!;
    const got = new Uint16Array(
      h.data.buffer.slice(h.data.byteOffset + e.data_offsets[0], h.data.byteOffset + e.data_offsets[1]),
    );
    assert.deepEqual(got, want);
  });

  test("tiny-qwen2 has q/k/v biases, tied embeddings (no lm_head) and ChatML special tokens", async () => {
    const out = await makeModel({ preset: "tiny-qwen2", out: join(dir, "qwen") });
    const st = await readSafetensors(join(out, "model.safetensors"));
    assert.deepEqual(st.header["model.layers.3.self_attn.k_proj.bias"]?.shape, [144]);
    assert.equal(st.header["lm_head.weight"], undefined);
    assert.deepEqual(st.header["model.embed_tokens.weight"]?.shape, [32064, 288]);
    const config = JSON.parse(await readFile(join(out, "config.json"), "utf8"));
    assert.deepEqual(config.architectures, ["Qwen2ForCausalLM"]);
    assert.equal(config.tie_word_embeddings, true);
    const tok = JSON.parse(await readFile(join(out, "tokenizer.json"), "utf8"));
    assert.ok(
      tok.added_tokens.some(
        (t: { id: number; content: string }) => t.id === 32001 && t.content === "<|im_end|>",
      ),
    );
    const gen = JSON.parse(await readFile(join(out, "generation_config.json"), "utf8"));
    assert.deepEqual(gen.eos_token_id, [32001, 2]);
  });

  test("sharded output: two files and an index naming every tensor once", async () => {
    const out = await makeModel({ preset: "tiny", out: join(dir, "sharded"), shards: 2 });
    const index = JSON.parse(await readFile(join(out, "model.safetensors.index.json"), "utf8"));
    const files = new Set(Object.values(index.weight_map));
    assert.deepEqual([...files].sort(), [
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
    ]);
    const one = await readSafetensors(join(dir, "tiny", "model.safetensors"));
    let total = 0;
    for (const file of files) {
      const st = await readSafetensors(join(out, file as string));
      for (const [name, e] of Object.entries(st.header)) {
        if (name === "__metadata__") continue;
        assert.equal(index.weight_map[name], file);
        total += e.data_offsets[1] - e.data_offsets[0];
        // Same bytes as the unsharded model: a tensor's values depend only on (seed, name).
        assert.deepEqual(f32At(st, name), f32At(one, name));
      }
    }
    assert.equal(total, index.metadata.total_size);
    // Re-making it unsharded into the same folder leaves no stale shard or index behind.
    await makeModel({ preset: "tiny", out, shards: 1 });
    assert.deepEqual(
      (await readdir(out)).filter((f) => f.includes("safetensors")),
      ["model.safetensors"],
    );
  });

  test("bad options fail with clear errors", async () => {
    await assert.rejects(
      makeModel({ preset: "huge" as never, out: join(dir, "x") }),
      /unknown model preset "huge"/,
    );
    await assert.rejects(
      makeModel({ preset: "tiny", out: join(dir, "x"), dtype: "f8" as never }),
      /unknown dtype/,
    );
    await assert.rejects(makeModel({ preset: "tiny", out: join(dir, "x"), seed: -1 }), /seed must be/);
    await assert.rejects(makeModelCli({ preset: "tiny" }), /--out DIR is required/);
    await assert.rejects(makeModelCli({ out: join(dir, "x"), seed: "abc" }), /--seed must be an integer/);
  });

  test("ensureDefaultModel makes the model once, concurrently safe, and reuses it", async () => {
    const cache = join(dir, "cache");
    const [p1, p2] = await Promise.all([ensureDefaultModel(cache), ensureDefaultModel(cache)]);
    assert.equal(p1, p2);
    assert.equal(p1, join(cache, "models", "tiny-f32-v1"));
    const entries = await readdir(join(cache, "models"));
    assert.deepEqual(entries, ["tiny-f32-v1"], "temporary folders are cleaned up");
    const again = await ensureDefaultModel(cache);
    assert.equal(again, p1);
  });
});

describe("float conversion", () => {
  test("bf16 rounds to nearest even", () => {
    // 1 + 2^-8 is exactly halfway between bf16 neighbours 1 and 1 + 2^-7: ties to even (1).
    const v = new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -2.5, Math.PI]);
    const b = f32ToBf16(v);
    assert.deepEqual(Array.from(b, bf16ToF32), [1, 1, 1 + 2 ** -6, -2.5, 3.140625]);
  });

  test("f16 handles rounding, subnormals, overflow", () => {
    const v = new Float32Array([
      1,
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      65504,
      70000,
      2 ** -24,
      2 ** -25,
      3 * 2 ** -26,
      -0.1,
    ]);
    const got = Array.from(f32ToF16(v), f16ToF32);
    assert.deepEqual(got.slice(0, 8), [
      1,
      1,
      1 + 2 ** -9,
      65504,
      Number.POSITIVE_INFINITY,
      2 ** -24,
      0,
      2 ** -24,
    ]);
    assert.ok(Math.abs(got[8]! + 0.1) < 1e-4);
  });
});
