#!/usr/bin/env node
// Builds (or reuses) llguidance, the grammar engine behind constrained decoding, as a static
// library in ~/.cache/radixserve/llguidance-<version> (outside the checkout: a cold build of the
// crate and its dependencies takes minutes, a cached one nothing). The addon links it when present.
//
// cargo: ~/.cargo/bin/cargo, else cargo on PATH, else Debian's cargo installed with apt-get (root
// only). When no cargo builds the crate, one line says so and the addon is built without it:
// constrained requests are then refused with a 400 (never ignored).
//
// Prints nothing else on success. Exit status is always 0: a missing grammar engine is not a
// build failure.
//
// `node scripts/build-llguidance.mjs --print-link` prints the linker arguments (or nothing), for
// binding.gyp; `--print-define` prints the preprocessor define (or nothing); `--print-include`
// the header's directory (or the addon's own src directory).
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const LLGUIDANCE_VERSION = "1.9.1";
const CACHE = join(homedir(), ".cache", "radixserve");
const DIR = join(CACHE, `llguidance-${LLGUIDANCE_VERSION}`);
const LIB = join(DIR, "target", "release", "libllg_static.a");
const HEADER_DIR = join(DIR, "target", "release");

const CARGO_TOML = `[package]
name = "llg-static"
version = "0.1.0"
edition = "2021"
[lib]
crate-type = ["staticlib"]
path = "src/lib.rs"
[dependencies]
llguidance = "=${LLGUIDANCE_VERSION}"
[profile.release]
opt-level = 3
`;

function ready() {
  return existsSync(LIB) && existsSync(join(HEADER_DIR, "llguidance.h"));
}

function findCargo() {
  const home = join(homedir(), ".cargo", "bin", "cargo");
  if (existsSync(home)) return home;
  if (spawnSync("cargo", ["--version"], { stdio: "ignore" }).status === 0) return "cargo";
  if (process.getuid?.() !== 0) return undefined;
  process.stderr.write("[radixserve] llguidance: installing Debian's cargo (apt-get install cargo)\n");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  spawnSync("apt-get", ["update", "-qq"], { stdio: "ignore", env });
  const r = spawnSync("apt-get", ["install", "-y", "-qq", "cargo"], { stdio: "ignore", env });
  return r.status === 0 ? "cargo" : undefined;
}

// The crate ships its C header; cargo leaves it in its registry, which is copied beside the library.
function copyHeader() {
  const registry = join(process.env.CARGO_HOME ?? join(homedir(), ".cargo"), "registry", "src");
  if (!existsSync(registry)) return;
  for (const index of readdirSync(registry)) {
    const header = join(registry, index, `llguidance-${LLGUIDANCE_VERSION}`, "llguidance.h");
    if (existsSync(header)) return copyFileSync(header, join(HEADER_DIR, "llguidance.h"));
  }
}

function build() {
  if (existsSync(LIB) && !ready()) copyHeader();
  if (ready()) return "";
  const cargo = findCargo();
  if (!cargo) return "no cargo (~/.cargo/bin, PATH, or apt-get install cargo)";
  mkdirSync(join(DIR, "src"), { recursive: true });
  writeFileSync(join(DIR, "Cargo.toml"), CARGO_TOML);
  writeFileSync(join(DIR, "src", "lib.rs"), "pub use llguidance::ffi::*;\n");
  process.stderr.write(
    `[radixserve] llguidance ${LLGUIDANCE_VERSION}: building with ${cargo} into ${DIR} (minutes, once)\n`,
  );
  const r = spawnSync(cargo, ["build", "--release", "-j", "2"], { cwd: DIR, stdio: "inherit" });
  if (r.status !== 0) return `cargo build exited ${r.status}`;
  copyHeader();
  if (!ready()) return `cargo built no ${LIB} with llguidance.h beside it`;
  return "";
}

const arg = process.argv[2];
if (arg === "--print-link") {
  if (ready()) process.stdout.write(`${LIB} -ldl -lm -lpthread\n`);
} else if (arg === "--print-define") {
  if (ready()) process.stdout.write("RADIXSERVE_LLGUIDANCE=1\n");
} else if (arg === "--print-include") {
  process.stdout.write(`${ready() ? HEADER_DIR : "src"}\n`);
} else {
  const why = build();
  if (why)
    process.stderr.write(
      `[radixserve] llguidance unavailable (${why}): constrained decoding (response_format, regex, ebnf, tool_choice required) is refused with a 400\n`,
    );
}
