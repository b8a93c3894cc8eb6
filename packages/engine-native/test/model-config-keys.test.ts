// config.json keys that change the arithmetic: rope from both layouts (transformers 4 top-level,
// transformers 5 rope_parameters), and one clear refusal per unimplemented value.
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { EngineError, readModelConfig } from "../src/index.js";
import { scratchDir, testModel } from "./helpers.js";

type Json = Record<string, unknown>;

/** A config.json of the tiny preset with `edit` applied, in a fresh directory. */
async function configWith(edit: (c: Json) => void): Promise<string> {
  const src = await testModel("tiny");
  const dir = scratchDir("config-keys");
  copyFileSync(join(src, "config.json"), join(dir, "config.json"));
  const c = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as Json;
  delete c["rope_theta"];
  delete c["rope_scaling"];
  edit(c);
  writeFileSync(join(dir, "config.json"), JSON.stringify(c));
  return dir;
}

async function refused(edit: (c: Json) => void, line: string): Promise<void> {
  const dir = await configWith(edit);
  assert.throws(
    () => readModelConfig(dir),
    (e: unknown) => {
      assert.ok(e instanceof EngineError);
      assert.equal(e.code, "model_unsupported");
      assert.equal(e.message, `${join(dir, "config.json")}: ${line}`);
      return true;
    },
  );
}

const LLAMA3 = {
  rope_type: "llama3",
  factor: 32,
  low_freq_factor: 1,
  high_freq_factor: 4,
  original_max_position_embeddings: 8192,
};

describe("readModelConfig: rope from both layouts", () => {
  it("transformers 5 rope_parameters: theta and llama3 scaling", async () => {
    const c = readModelConfig(
      await configWith((c) => (c["rope_parameters"] = { ...LLAMA3, rope_theta: 500000 })),
    );
    assert.equal(c.ropeTheta, 500000);
    assert.deepEqual(c.ropeScaling, {
      type: "llama3",
      factor: 32,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    });
  });

  it("transformers 5 rope_parameters of the default type (SmolLM2's theta 100000)", async () => {
    const c = readModelConfig(
      await configWith((c) => (c["rope_parameters"] = { rope_theta: 100000, rope_type: "default" })),
    );
    assert.equal(c.ropeTheta, 100000);
    assert.equal(c.ropeScaling, null);
  });

  it("transformers 4 top-level rope_theta and rope_scaling ('type' or 'rope_type')", async () => {
    const c = readModelConfig(
      await configWith((c) => {
        c["rope_theta"] = 500000;
        c["rope_scaling"] = { ...LLAMA3, rope_type: undefined, type: "llama3" };
      }),
    );
    assert.equal(c.ropeTheta, 500000);
    assert.equal(c.ropeScaling?.factor, 32);
    const plain = readModelConfig(await configWith(() => {}));
    assert.equal(plain.ropeTheta, 10000);
    assert.equal(plain.ropeScaling, null);
  });

  it("both layouts must agree", async () => {
    const dir = await configWith((c) => {
      c["rope_theta"] = 10000;
      c["rope_parameters"] = { rope_theta: 100000, rope_type: "default" };
    });
    assert.throws(
      () => readModelConfig(dir),
      /rope_theta 10000 and rope_parameters.rope_theta 100000 disagree/,
    );
    const same = await configWith((c) => {
      c["rope_theta"] = 500000;
      c["rope_scaling"] = LLAMA3;
      c["rope_parameters"] = { ...LLAMA3, rope_theta: 500000 };
    });
    assert.equal(readModelConfig(same).ropeScaling?.factor, 32);
  });

  it("head_dim when given (not hidden_size / num_attention_heads)", async () => {
    const c = readModelConfig(await configWith((c) => (c["head_dim"] = 64)));
    assert.equal(c.headDim, 64);
  });
});

describe("readModelConfig refuses what it does not implement, naming key and value", () => {
  it("rope types other than default and llama3, in either layout", async () => {
    for (const type of ["yarn", "dynamic", "linear", "longrope"]) {
      await refused(
        (c) => (c["rope_parameters"] = { rope_theta: 10000, rope_type: type, factor: 4 }),
        `rope_parameters.rope_type = "${type}" is not supported (implemented rope types: "default", "llama3")`,
      );
    }
    await refused(
      (c) => (c["rope_scaling"] = { type: "linear", factor: 2 }),
      'rope_scaling.type = "linear" is not supported (implemented rope types: "default", "llama3")',
    );
  });

  it("partial rotary, sliding window, soft-capping, activations, pre-quantized weights, layer types", async () => {
    await refused(
      (c) => (c["rope_parameters"] = { rope_theta: 10000, rope_type: "default", partial_rotary_factor: 0.5 }),
      "rope_parameters.partial_rotary_factor = 0.5 is not supported (rotary embedding on every head dimension only)",
    );
    await refused(
      (c) => (c["partial_rotary_factor"] = 0.25),
      "partial_rotary_factor = 0.25 is not supported (rotary embedding on every head dimension only)",
    );
    await refused(
      (c) => (c["sliding_window"] = 1024),
      "sliding_window = 1024 is not supported (sliding-window attention is not implemented; window 1024 < context 2048)",
    );
    await refused((c) => {
      c["architectures"] = ["Qwen2ForCausalLM"];
      c["use_sliding_window"] = true;
      c["sliding_window"] = 512;
    }, "use_sliding_window = true is not supported (sliding-window attention is not implemented; window 512 < context 2048)");
    await refused(
      (c) => (c["final_logit_softcapping"] = 30),
      "final_logit_softcapping = 30 is not supported (final logit soft-capping is not implemented)",
    );
    await refused(
      (c) => (c["attn_logit_softcapping"] = 50),
      "attn_logit_softcapping = 50 is not supported (attention logit soft-capping is not implemented)",
    );
    await refused(
      (c) => (c["hidden_act"] = "gelu"),
      'hidden_act = "gelu" is not supported (only "silu" is implemented)',
    );
    await refused(
      (c) => (c["quantization_config"] = { quant_method: "awq" }),
      'quantization_config = {"quant_method":"awq"} is not supported (pre-quantized checkpoints are not loaded; use the unquantized weights)',
    );
    await refused(
      (c) => (c["layer_types"] = ["full_attention", "sliding_attention"]),
      'layer_types = "sliding_attention" is not supported (only "full_attention" layers are implemented)',
    );
  });

  it("accepts the neutral values transformers writes", async () => {
    const dir = await configWith((c) => {
      c["sliding_window"] = null;
      c["architectures"] = ["MistralForCausalLM"];
      c["hidden_act"] = "silu";
      c["layer_types"] = Array(6).fill("full_attention");
      c["final_logit_softcapping"] = null;
      c["rope_parameters"] = { rope_theta: 1000000, rope_type: "default", partial_rotary_factor: 1.0 };
    });
    assert.equal(readModelConfig(dir).ropeTheta, 1000000);
    const qwen = await configWith((c) => {
      c["architectures"] = ["Qwen2ForCausalLM"];
      c["use_sliding_window"] = false;
      c["sliding_window"] = 4096;
    });
    assert.equal(readModelConfig(qwen).architecture, "Qwen2ForCausalLM");
  });
});
