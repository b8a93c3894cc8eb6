/**
 * Reading the JSON files of a Hugging Face model directory, with errors that name the file.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { RadixServeError } from "../errors/index.js";

/** Reads and parses `<dir>/<name>`. Returns null when the file is absent and `optional` is set. */
export async function readModelJson(
  dir: string,
  name: string,
  optional: true,
): Promise<Record<string, unknown> | null>;
export async function readModelJson(
  dir: string,
  name: string,
  optional?: false,
): Promise<Record<string, unknown>>;
export async function readModelJson(
  dir: string,
  name: string,
  optional = false,
): Promise<Record<string, unknown> | null> {
  const path = join(dir, name);
  if (!existsSync(path)) {
    if (optional) return null;
    throw new RadixServeError("internal", `model directory ${dir} has no ${name}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, "utf8"));
  } catch (err) {
    throw new RadixServeError("internal", `${path} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new RadixServeError("internal", `${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

/**
 * tokenizer_config.json writes special tokens either as a string or as an AddedToken object
 * ({ "content": "<s>", ... }); null means "none".
 */
export function specialTokenContent(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") {
    return (v as { content: string }).content;
  }
  return null;
}
