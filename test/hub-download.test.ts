// `--model-path org/name`: download from the Hugging Face Hub into the cache, against a local
// server that plays the Hub's file API (the real Hub is not reachable here). Covers the files
// fetched (and those not), one snapshot per commit, --revision, HF_TOKEN for gated repos,
// HF_ENDPOINT, the cache on a second start, one clear line when offline or unknown, and a worker
// process started with `--model-path org/name` serving the downloaded model under that name.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { downloadHubModel, isHubModelId, loadTokenizer, resolveModelPath } from "@radixserve/core";
import { type FakeHub, startFakeHub } from "./harness/fake-hub.js";
import { CLI, env } from "./harness/launcher.js";

const CHECKPOINT = new URL("./golden/checkpoints/hf5-llama3-rope/", import.meta.url);
const MODEL_FILES = readdirSync(CHECKPOINT).sort();
const MAIN = "a".repeat(40);
const V1 = "b".repeat(40);

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function files(): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const f of MODEL_FILES) out[f] = readFileSync(new URL(f, CHECKPOINT));
  out["pytorch_model.bin"] = new Uint8Array(64); // not wanted: safetensors are
  out["README.md"] = Buffer.from("# a model\n");
  return out;
}

describe("Hub downloads (local fake Hub)", () => {
  let hub: FakeHub;
  let cacheRoot: string;
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  before(async () => {
    hub = await startFakeHub({
      "test-org/tiny-llama": { revisions: { main: MAIN, v1: V1 }, files: files() },
      "test-org/gated": { revisions: { main: MAIN }, files: files(), token: "hf_secret" },
      "test-org/only-gguf": { revisions: { main: MAIN }, files: { "m.Q4_K_M.gguf": new Uint8Array(8) } },
    });
    cacheRoot = mkdtempSync(join(tmpdir(), "rs-hub-"));
  });
  after(async () => hub?.close());

  test("org/name ids, and what is not one", () => {
    assert.equal(isHubModelId("meta-llama/Llama-3.1-8B-Instruct"), true);
    assert.equal(isHubModelId("Qwen/Qwen2.5-0.5B"), true);
    for (const s of ["/abs/dir", "a/b/c", "name", "./x/y", "org/"]) assert.equal(isHubModelId(s), false, s);
  });

  test("downloads the model's files into one snapshot, loadable, and nothing else", async () => {
    const dir = await downloadHubModel("test-org/tiny-llama", { cacheRoot, endpoint: hub.url, log });
    assert.equal(basename(dir), MAIN);
    assert.ok(dir.startsWith(join(cacheRoot, "hub")), dir);
    assert.deepEqual(readdirSync(dir).sort(), MODEL_FILES);
    for (const f of MODEL_FILES)
      assert.deepEqual(readFileSync(join(dir, f)), readFileSync(new URL(f, CHECKPOINT)), f);
    assert.deepEqual([...hub.downloads].sort(), MODEL_FILES);
    const tok = await loadTokenizer(dir);
    assert.ok(tok.chatTemplate?.includes("<|im_start|>"));
  });

  test("a second start finds the cache: no file is downloaded again", async () => {
    hub.downloads.length = 0;
    const dir = await downloadHubModel("test-org/tiny-llama", { cacheRoot, endpoint: hub.url, log });
    assert.equal(basename(dir), MAIN);
    assert.deepEqual(hub.downloads, []);
  });

  test("--revision picks the tag's commit; HF_ENDPOINT is the default endpoint", async () => {
    const saved = process.env["HF_ENDPOINT"];
    process.env["HF_ENDPOINT"] = hub.url;
    try {
      const r = await resolveModelPath("test-org/tiny-llama", { cacheDir: cacheRoot, revision: "v1", log });
      assert.equal(basename(r.path), V1);
      assert.equal(r.servedModelName, "test-org/tiny-llama");
      await assert.rejects(
        resolveModelPath("test-org/tiny-llama", { cacheDir: cacheRoot, revision: "nope", log }),
        /--model-path test-org\/tiny-llama: no such model or revision "nope" on http:\/\/127\.0\.0\.1:\d+$/,
      );
    } finally {
      if (saved === undefined) delete process.env["HF_ENDPOINT"];
      else process.env["HF_ENDPOINT"] = saved;
    }
  });

  test("a gated model needs HF_TOKEN, and works with it", async () => {
    await assert.rejects(
      downloadHubModel("test-org/gated", { cacheRoot, endpoint: hub.url, token: "", log }),
      /^RadixServeError: --model-path test-org\/gated: the Hub refused access \(HTTP 401\): a gated or private model needs HF_TOKEN$/,
    );
    const saved = process.env["HF_TOKEN"];
    process.env["HF_TOKEN"] = "hf_secret";
    try {
      const dir = await downloadHubModel("test-org/gated", { cacheRoot, endpoint: hub.url, log });
      assert.deepEqual(readdirSync(dir).sort(), MODEL_FILES);
    } finally {
      if (saved === undefined) delete process.env["HF_TOKEN"];
      else process.env["HF_TOKEN"] = saved;
    }
  });

  test("unknown models, GGUF-only repos and an unreachable Hub: one clear line", async () => {
    await assert.rejects(
      downloadHubModel("test-org/missing", { cacheRoot, endpoint: hub.url, log }),
      /--model-path test-org\/missing: no such model or revision "main"/,
    );
    await assert.rejects(
      downloadHubModel("test-org/only-gguf", { cacheRoot, endpoint: hub.url, log }),
      /--model-path test-org\/only-gguf: holds GGUF files \(m\.Q4_K_M\.gguf\) and no config\.json: download the one you want and pass its path/,
    );
    await assert.rejects(
      downloadHubModel("test-org/tiny-llama", {
        cacheRoot: mkdtempSync(join(tmpdir(), "rs-hub-")),
        endpoint: `http://127.0.0.1:${await closedPort()}`,
        log,
      }),
      /^RadixServeError: --model-path test-org\/tiny-llama: cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); offline machines need a local directory or \.gguf file as --model-path$/,
    );
  });

  test("a path that exists is used as is; anything else is refused", async () => {
    const local = await resolveModelPath(CHECKPOINT.pathname, { log });
    assert.equal(local.path, CHECKPOINT.pathname);
    await assert.rejects(
      resolveModelPath("/no/such/model", { log }),
      /--model-path \/no\/such\/model: no such file or directory \(and not a Hugging Face model id "org\/name"\)/,
    );
    await assert.rejects(
      resolveModelPath(CHECKPOINT.pathname, { revision: "main", log }),
      /--revision applies to Hugging Face model ids, not the local path/,
    );
  });

  test("radixserve worker --model-path org/name downloads, serves, and names the model by its id", async () => {
    const cache = mkdtempSync(join(tmpdir(), "rs-hub-worker-"));
    const proc = spawn(
      process.execPath,
      [
        CLI,
        "worker",
        "--model-path",
        "test-org/tiny-llama",
        "--revision",
        "v1",
        "--port",
        "0",
        "--kv-cache-blocks",
        "16",
      ],
      { env: { ...env, HF_ENDPOINT: hub.url, RADIXSERVE_CACHE: cache }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const exited = new Promise<number | null>((r) => proc.on("exit", (c) => r(c)));
    try {
      const ready = await Promise.race([
        new Promise<boolean>((resolve) => {
          const poll = setInterval(() => {
            if (/^RADIXSERVE_WORKER_READY /m.test(out)) {
              clearInterval(poll);
              resolve(true);
            }
          }, 50);
          void exited.then(() => clearInterval(poll));
        }),
        exited.then(() => false),
      ]);
      assert.ok(ready, `worker did not start:\n${err}`);
      assert.match(
        err,
        /model test-org\/tiny-llama: \S+\/hub\/models--test-org--tiny-llama\/snapshots\/b{40}/,
      );
    } finally {
      proc.kill("SIGTERM");
      await exited;
    }
  });
});
