#!/usr/bin/env node
// Runs clang-format (from the clang-format npm package) over the C++ sources.
// --check: fail when a file is not formatted; otherwise rewrite files in place.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const require = createRequire(join(ROOT, "package.json"));
const bin = join(dirname(require.resolve("clang-format/package.json")), "index.js");
const exts = [".cc", ".cpp", ".h", ".hpp", ".cu", ".cuh"];

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === "build" || name === "node_modules") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (exts.some((e) => name.endsWith(e))) out.push(p);
  }
  return out;
}

const files = walk(join(ROOT, "packages", "engine-native", "src"), []);
const check = process.argv.includes("--check");
const args = check ? ["--dry-run", "-Werror", ...files] : ["-i", ...files];
if (files.length === 0) process.exit(0);
const r = spawnSync(process.execPath, [bin, ...args], { stdio: "inherit" });
if (r.status !== 0) {
  process.stderr.write("[radixserve] C++ formatting differs: run `node scripts/clang-format.mjs` to fix\n");
  process.exit(r.status ?? 1);
}
