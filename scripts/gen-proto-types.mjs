#!/usr/bin/env node
// Generates the TypeScript types of protos/ into packages/core/src/proto/generated/ with
// proto-loader-gen-types (shipped in @grpc/proto-loader). The output is checked in and never edited
// by hand; packages/core/test/proto-generated.test.ts regenerates into a temp dir and fails when the
// checked-in files are stale. Usage: node scripts/gen-proto-types.mjs [outDir]
//
// The flags must match the run-time loader options in packages/core/src/proto/load.ts
// (keepCase false -> camelCase fields, longs String, enums String, defaults, oneofs).
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PROTO_FILES = ["radixserve/worker/v1/worker.proto"];

export function genProtoTypes(outDir) {
  // Resolve the generator from the core package, which owns the @grpc/proto-loader dependency.
  const require = createRequire(join(ROOT, "packages", "core", "package.json"));
  const loaderPkg = require.resolve("@grpc/proto-loader/package.json");
  const bin = join(loaderPkg, "..", "build", "bin", "proto-loader-gen-types.js");
  rmSync(outDir, { recursive: true, force: true });
  const args = [
    bin,
    "--grpcLib=@grpc/grpc-js",
    "--longs=String",
    "--enums=String",
    "--defaults",
    "--oneofs",
    "--includeComments",
    "--importFileExtension=.js",
    "--includeDirs=protos",
    `--outDir=${outDir}`,
    ...PROTO_FILES,
  ];
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0)
    throw new Error(`proto-loader-gen-types failed (exit ${r.status}): ${r.stderr}${r.stdout}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = process.argv[2]
    ? resolve(process.argv[2])
    : join(ROOT, "packages", "core", "src", "proto", "generated");
  genProtoTypes(out);
  process.stderr.write(`[radixserve] proto types written to ${out}\n`);
}
