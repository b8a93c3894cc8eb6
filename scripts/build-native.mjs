#!/usr/bin/env node
// Builds packages/engine-native's addon with node-gyp: configure once, then incremental builds.
// Headers come from the local Node installation (nodedir), so no network is needed.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
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

if (!existsSync(join(PKG, "build", "Makefile")) || process.argv.includes("--reconfigure"))
  gypRun(["configure"]);
gypRun(["build", "--jobs", "2"]);
