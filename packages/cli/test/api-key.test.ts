/**
 * Where the router's API key comes from: --api-key, --api-key-file or RADIXSERVE_API_KEY, in that
 * order; both flags at once, an empty key or an unreadable file are refused with one line.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { resolveApiKey } from "../src/api-key.js";

describe("cli: the API key's sources", () => {
  it("the key comes from --api-key, --api-key-file or RADIXSERVE_API_KEY, never empty", () => {
    const dir = mkdtempSync(join(tmpdir(), "radixserve-key-"));
    const file = join(dir, "key");
    writeFileSync(file, "sk-from-file\n");
    assert.equal(resolveApiKey({ apiKey: "sk-flag", env: {} }), "sk-flag");
    assert.equal(resolveApiKey({ apiKeyFile: file, env: {} }), "sk-from-file");
    assert.equal(resolveApiKey({ env: { RADIXSERVE_API_KEY: "sk-env" } }), "sk-env");
    assert.equal(resolveApiKey({ apiKey: "sk-flag", env: { RADIXSERVE_API_KEY: "sk-env" } }), "sk-flag");
    assert.equal(resolveApiKey({ env: {} }), undefined);
    assert.throws(() => resolveApiKey({ apiKey: "a", apiKeyFile: file, env: {} }), /not both/);
    assert.throws(() => resolveApiKey({ apiKey: " ", env: {} }), /empty/);
    writeFileSync(file, "\n");
    assert.throws(() => resolveApiKey({ apiKeyFile: file, env: {} }), /is empty/);
    assert.throws(() => resolveApiKey({ apiKeyFile: join(dir, "missing"), env: {} }), /cannot read/);
    assert.throws(() => resolveApiKey({ env: { RADIXSERVE_API_KEY: "" } }), /empty/);
  });
});
