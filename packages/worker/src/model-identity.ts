import { createHash } from "node:crypto";
import { open, readdir, readFile, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { type BlockHash, blockHashSeed } from "@radixserve/core";
import { findGgufFile } from "@radixserve/engine-native";

/** Bytes of a GGUF file's start that go into its identity (its metadata: architecture, vocabulary, ...). */
const GGUF_IDENTITY_BYTES = 1 << 20;

/**
 * The block-hash seed of a model directory: config.json's bytes plus the names and sizes of its
 * weight files (for a GGUF model: its name, size and first MiB, which holds the metadata), so two
 * different models never share prefix-cache keys while every worker serving the same model agrees.
 * Reported in GetModelInfo so the router uses the same chain.
 */
export async function modelHashSeed(modelPath: string): Promise<BlockHash> {
  const h = createHash("sha256");
  const gguf = findGgufFile(modelPath);
  if (gguf !== null) {
    const f = await open(gguf, "r");
    try {
      const head = Buffer.alloc(GGUF_IDENTITY_BYTES);
      const { bytesRead } = await f.read(head, 0, head.length, 0);
      h.update(`${basename(gguf)}:${(await f.stat()).size}\0`);
      h.update(head.subarray(0, bytesRead));
    } finally {
      await f.close();
    }
    return blockHashSeed(h.digest("hex"));
  }
  h.update(await readFile(join(modelPath, "config.json")));
  const names = (await readdir(modelPath))
    .filter((n) => n.endsWith(".safetensors") || n.endsWith(".gguf"))
    .sort();
  for (const n of names) h.update(`\0${n}:${(await stat(join(modelPath, n))).size}`);
  return blockHashSeed(h.digest("hex"));
}

/** The model directory's name, or a GGUF file's name without `.gguf`. */
export function defaultServedModelName(modelPath: string): string {
  return basename(resolve(modelPath)).replace(/\.gguf$/, "");
}
