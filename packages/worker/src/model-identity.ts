import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { type BlockHash, blockHashSeed } from "@radixserve/core";

/**
 * The block-hash seed of a model directory: config.json's bytes plus the names and sizes of its
 * weight files, so two different models never share prefix-cache keys while every worker serving
 * the same directory agrees. Reported in GetModelInfo so the router uses the same chain.
 */
export async function modelHashSeed(modelPath: string): Promise<BlockHash> {
  const h = createHash("sha256");
  h.update(await readFile(join(modelPath, "config.json")));
  const names = (await readdir(modelPath))
    .filter((n) => n.endsWith(".safetensors") || n.endsWith(".gguf"))
    .sort();
  for (const n of names) h.update(`\0${n}:${(await stat(join(modelPath, n))).size}`);
  return blockHashSeed(h.digest("hex"));
}

export function defaultServedModelName(modelPath: string): string {
  return basename(resolve(modelPath));
}
