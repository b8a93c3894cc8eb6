// Shared set-up for the tokenizer tests: the generated models' JSON files (no weights needed).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeModelJsonFiles } from "../src/model/make-model.js";
import type { ModelPresetName } from "../src/model/presets.js";

export async function withModelJson<T>(preset: ModelPresetName, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), `rs-tok-${preset}-`));
  try {
    await writeModelJsonFiles(dir, preset);
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
