#!/usr/bin/env node
// Builds packages/engine-native's addon with node-gyp: configure once, then incremental builds.
// Headers come from the local Node installation (nodedir), so no network is needed.
//
// --asan: instead, builds an AddressSanitizer + UBSan copy into build/asan/ with g++ directly (same
// sources as binding.gyp) and prints how to run the engine tests against it.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PKG = join(ROOT, "packages", "engine-native");
const require = createRequire(join(PKG, "package.json"));
const gyp = join(dirname(require.resolve("node-gyp/package.json")), "bin", "node-gyp.js");
const nodedir =
  process.env.npm_config_nodedir || (existsSync("/usr/include/node/node.h") ? "/usr" : undefined);
const common = nodedir ? [`--nodedir=${nodedir}`] : [];

function gypRun(args) {
  const r = spawnSync(process.execPath, [gyp, ...args, ...common], { cwd: PKG, stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write(`[radixserve] native build failed: node-gyp ${args.join(" ")} exited ${r.status}\n`);
    process.exit(r.status ?? 1);
  }
}

function buildAsan() {
  const gyp = JSON.parse(readFileSync(join(PKG, "binding.gyp"), "utf8"));
  const sources = gyp.targets[0].sources;
  const nodeInclude = join(nodedir ?? dirname(dirname(process.execPath)), "include", "node");
  const napiInclude = dirname(require.resolve("node-addon-api/package.json"));
  const out = join(PKG, "build", "asan");
  mkdirSync(out, { recursive: true });
  const args = [
    "-std=c++17",
    "-O1",
    "-g",
    "-fno-omit-frame-pointer",
    "-fsanitize=address,undefined",
    "-fexceptions",
    "-pthread",
    "-shared",
    "-fPIC",
    "-DNAPI_VERSION=8",
    "-DNAPI_CPP_EXCEPTIONS",
    `-I${nodeInclude}`,
    `-I${napiInclude}`,
    `-I${join(PKG, "src")}`,
    ...sources.map((s) => join(PKG, s)),
    "-o",
    join(out, "radixserve_engine.node"),
  ];
  const r = spawnSync("g++", args, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
  const libasan = spawnSync("g++", ["-print-file-name=libasan.so"], { encoding: "utf8" }).stdout.trim();
  process.stdout.write(
    `built ${join(out, "radixserve_engine.node")}\nrun the engine tests under it with:\n` +
      `  LD_PRELOAD=${libasan} ASAN_OPTIONS=detect_leaks=0 RADIXSERVE_ENGINE_ADDON=${join(out, "radixserve_engine.node")} ` +
      "node --import tsx --test packages/engine-native/test/*.test.ts\n",
  );
}

if (process.argv.includes("--asan")) {
  buildAsan();
  process.exit(0);
}

// llguidance (the grammar engine) first: built or reused from ~/.cache/radixserve, or one line
// saying why not. The configuration depends on whether it is there, so a change reconfigures.
const llg = join(ROOT, "scripts", "build-llguidance.mjs");
spawnSync(process.execPath, [llg], { stdio: "inherit" });
const linkLine = spawnSync(process.execPath, [llg, "--print-link"], { encoding: "utf8" }).stdout;
const stamp = join(PKG, "build", "configured-with");
const configuredWith = readFileSync(join(PKG, "binding.gyp"), "utf8") + linkLine;
if (
  !existsSync(join(PKG, "build", "Makefile")) ||
  process.argv.includes("--reconfigure") ||
  !existsSync(stamp) ||
  readFileSync(stamp, "utf8") !== configuredWith
) {
  gypRun(["configure"]);
  writeFileSync(stamp, configuredWith);
}
gypRun(["build", "--jobs", "2"]);
// The CUDA backend (a separate library the addon dlopens): built where nvcc is found, else one
// skip line. CI thus compiles the .cu sources wherever a toolkit exists.
const cuda = spawnSync(process.execPath, [join(ROOT, "scripts", "build-cuda.mjs")], { stdio: "inherit" });
if (cuda.status !== 0) process.exit(cuda.status ?? 1);
