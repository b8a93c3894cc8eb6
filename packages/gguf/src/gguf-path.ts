/**
 * Which GGUF file a `--model-path` names: the path itself when it is a `.gguf` file, or the one
 * `.gguf` file of a directory that has no config.json (a directory with config.json is a Hugging
 * Face checkpoint). A directory with several GGUF files is ambiguous and refused, naming them.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { GgufError } from "./errors.js";

/** The GGUF file that `path` names, or null when it is not a GGUF model. */
export function findGgufFile(path: string): string | null {
  if (path.endsWith(".gguf")) return path;
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  if (!st.isDirectory() || existsSync(join(path, "config.json"))) return null;
  const found = readdirSync(path)
    .filter((f) => f.endsWith(".gguf"))
    .sort();
  if (found.length === 0) return null;
  if (found.length > 1)
    throw new GgufError(
      "model_invalid",
      `${path}: holds ${found.length} GGUF files (${found.join(", ")}); pass --model-path the one to serve`,
    );
  return join(path, found[0]!);
}
