/**
 * Makes the model directories the golden oracle runs on (tools/oracle/golden.py), one per case of
 * tools/oracle/cases.json, into the folder given as the first argument:
 *
 *   node --import tsx tools/make-golden-models.ts /tmp/golden-models
 *
 * test/golden/golden.test.ts regenerates the same directories the same way and checks their
 * sha256 against the fixtures.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makeModel } from "../packages/core/src/model/make-model.js";
import type { ModelDtype, ModelPresetName } from "../packages/core/src/model/presets.js";

export interface GoldenCase {
  name: string;
  preset: ModelPresetName;
  dtype: ModelDtype;
  seed: number;
}

export function goldenCases(): GoldenCase[] {
  const path = new URL("./oracle/cases.json", import.meta.url);
  return (JSON.parse(readFileSync(path, "utf8")) as { cases: GoldenCase[] }).cases;
}

async function main(): Promise<void> {
  const outRoot = process.argv[2];
  if (!outRoot) {
    console.error("usage: node --import tsx tools/make-golden-models.ts OUT_DIR");
    process.exit(2);
  }
  for (const c of goldenCases()) {
    const dir = await makeModel({
      preset: c.preset,
      dtype: c.dtype,
      seed: c.seed,
      out: join(outRoot, c.name),
    });
    console.log(`${c.name}: ${dir}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
