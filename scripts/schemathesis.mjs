#!/usr/bin/env node
// Makes sure schemathesis (the OpenAPI fuzzer of test/fuzz) is installed, from PyPI into a virtual
// environment in the user's cache, never into the repository:
//   ~/.cache/radixserve/schemathesis-<version>/
// and prints {"bin": PATH} on stdout. A fresh Debian machine may lack python3's venv module: then
// it apt-get installs python3-venv (as root), or exits 1 with the command to run by hand.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

const VERSION = "4.32.5";

function log(msg) {
  process.stderr.write(`[schemathesis] ${msg}\n`);
}

function run(cmd, args) {
  log(`${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, {
    stdio: ["ignore", 2, 2],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (r.error) return `${cmd}: ${r.error.message}`;
  if (r.status !== 0) return `${cmd} ${args.join(" ")} exited with ${r.status ?? r.signal}`;
  return null;
}

function fail(msg) {
  log(msg);
  process.exit(1);
}

const cache = join(homedir(), ".cache", "radixserve");
const venv = join(cache, `schemathesis-${VERSION}`);
const bin = join(venv, "bin", "schemathesis");

if (!existsSync(bin)) {
  if (run("python3", ["-m", "venv", venv])) {
    const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
    if (!isRoot) fail("python3 -m venv failed: run 'apt-get install -y python3-venv' as root, then retry");
    const err =
      run("apt-get", ["update"]) ??
      run("apt-get", ["install", "-y", "--no-install-recommends", "python3-venv"]);
    if (err) fail(`cannot install python3-venv: ${err}`);
    const again = run("python3", ["-m", "venv", "--clear", venv]);
    if (again) fail(again);
  }
  const err = run(join(venv, "bin", "pip"), [
    "install",
    "--quiet",
    "--disable-pip-version-check",
    `schemathesis==${VERSION}`,
  ]);
  if (err) fail(err);
  if (!existsSync(bin)) fail(`installed, but ${bin} is missing`);
}
process.stdout.write(`${JSON.stringify({ bin })}\n`);
