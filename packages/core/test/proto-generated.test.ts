import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const CHECKED_IN = join(ROOT, "packages", "core", "src", "proto", "generated");

function listFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) listFiles(p, out);
    else out.push(p);
  }
  return out;
}

test("proto generated types: checked-in files equal a fresh run of scripts/gen-proto-types.mjs", async () => {
  const { genProtoTypes } = (await import(join(ROOT, "scripts", "gen-proto-types.mjs"))) as {
    genProtoTypes: (outDir: string) => void;
  };
  const tmp = mkdtempSync(join(tmpdir(), "radixserve-proto-"));
  try {
    const out = join(tmp, "generated");
    genProtoTypes(out);
    const fresh = listFiles(out)
      .map((p) => relative(out, p))
      .sort();
    const current = listFiles(CHECKED_IN)
      .map((p) => relative(CHECKED_IN, p))
      .sort();
    assert.deepEqual(current, fresh, "file list differs: run `node scripts/gen-proto-types.mjs`");
    for (const f of fresh) {
      assert.equal(
        readFileSync(join(CHECKED_IN, f), "utf8"),
        readFileSync(join(out, f), "utf8"),
        `${f} is stale: run \`node scripts/gen-proto-types.mjs\``,
      );
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
