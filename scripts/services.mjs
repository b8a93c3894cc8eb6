#!/usr/bin/env node
// Finds the Debian programs the integration tests start, installing them with apt-get on a fresh
// Debian machine when they are missing (CI machines start bare): redis-server and nats-server (the
// cluster tests), prometheus and promtool (the metrics tests), chromium (the status page test).
//
//   node scripts/services.mjs                    ensure redis and nats, print {"redis":PATH,"nats":PATH}
//   node scripts/services.mjs prometheus chromium   ensure those (keys below), print their paths
//   node scripts/services.mjs --check [KEYS]     only look; exit 1 (and say what is missing) if one is absent
//
// Install needs root and apt-get; without them it exits 1 with the command to run by hand.
// Progress goes to stderr so stdout stays one JSON line for the test harness.
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

const ALL = [
  { key: "redis", binary: "redis-server", aptPackage: "redis-server" },
  { key: "nats", binary: "nats-server", aptPackage: "nats-server" },
  { key: "prometheus", binary: "prometheus", aptPackage: "prometheus" },
  { key: "promtool", binary: "promtool", aptPackage: "prometheus" },
  { key: "chromium", binary: "chromium", aptPackage: "chromium" },
];
const DEFAULT_KEYS = ["redis", "nats"];

function selected() {
  const keys = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const unknown = keys.filter((k) => !ALL.some((s) => s.key === k));
  if (unknown.length > 0) {
    log(`unknown program(s): ${unknown.join(", ")} (known: ${ALL.map((s) => s.key).join(", ")})`);
    process.exit(2);
  }
  const want = keys.length > 0 ? keys : DEFAULT_KEYS;
  return ALL.filter((s) => want.includes(s.key));
}

function log(msg) {
  process.stderr.write(`[services] ${msg}\n`);
}

/** The absolute path of an executable named `name` on PATH or in the sbin folders Debian uses. */
function which(name) {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here: try the next folder
    }
  }
  return null;
}

function run(cmd, args) {
  log(`${cmd} ${args.join(" ")}`);
  // Progress to stderr: the JSON answer must stay alone on stdout.
  const r = spawnSync(cmd, args, {
    stdio: ["ignore", 2, 2],
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  if (r.error) return `${cmd}: ${r.error.message}`;
  if (r.status !== 0) return `${cmd} ${args.join(" ")} exited with ${r.status ?? r.signal}`;
  return null;
}

function install(packages) {
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const manual = `apt-get update && apt-get install -y ${packages.join(" ")}`;
  if (!which("apt-get")) return `apt-get is not available: install ${packages.join(", ")} by hand`;
  if (!isRoot) return `not root: run '${manual}' as root`;
  // Update first: on a fresh machine the package lists are empty or stale.
  return (
    run("apt-get", ["update"]) ?? run("apt-get", ["install", "-y", "--no-install-recommends", ...packages])
  );
}

function main() {
  const SERVICES = selected();
  const checkOnly = process.argv.includes("--check");
  const found = Object.fromEntries(SERVICES.map((s) => [s.key, which(s.binary)]));
  const missing = SERVICES.filter((s) => !found[s.key]);
  if (missing.length > 0) {
    if (checkOnly) {
      log(`missing: ${missing.map((s) => s.binary).join(", ")}`);
      process.exit(1);
    }
    const err = install([...new Set(missing.map((s) => s.aptPackage))]);
    if (err) {
      log(`cannot install ${missing.map((s) => s.binary).join(", ")}: ${err}`);
      process.exit(1);
    }
    for (const s of missing) found[s.key] = which(s.binary);
    const still = SERVICES.filter((s) => !found[s.key]);
    if (still.length > 0) {
      log(`installed, but still not found: ${still.map((s) => s.binary).join(", ")}`);
      process.exit(1);
    }
  }
  process.stdout.write(`${JSON.stringify(found)}\n`);
}

main();
