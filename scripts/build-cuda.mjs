#!/usr/bin/env node
// Builds the engine's CUDA backend (packages/engine-native/src/native/cuda/*.cu) into
// packages/engine-native/build/cuda/librs_cuda.so, which the addon loads with dlopen for
// `backend: "cuda"`. Where no CUDA toolkit is found it prints one line and exits 0: a CPU build needs
// none. scripts/build-native.mjs runs it after the addon, so CI compiles the CUDA sources (they cannot
// rot) wherever nvcc exists; no GPU is needed to compile or link.
//
// nvcc is looked up in: $RADIXSERVE_NVCC, $CUDA_HOME/bin, PATH, /usr/local/cuda/bin, and the venv that
// `--install-toolkit` makes (~/.cache/radixserve/cuda-venv: the PyPI wheels nvidia-cuda-nvcc,
// nvidia-cuda-runtime, nvidia-cublas, nvidia-cuda-cccl, CUDA 13; the -cu12 nvcc wheels ship ptxas only).
//
//   node scripts/build-cuda.mjs [--install-toolkit] [--compile-only] [--force] [--arch sm_80,sm_90]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PKG = join(ROOT, "packages", "engine-native");
const SRC = join(PKG, "src", "native");
const OUT = join(PKG, "build", "cuda");
const VENV = join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "radixserve", "cuda-venv");
const args = process.argv.slice(2);
const archArg = args.includes("--arch") ? args[args.indexOf("--arch") + 1] : undefined;
// Ampere (A100), Ada (L4/L40), Hopper (H100/H200); PTX for compute_90 lets newer GPUs JIT it.
const ARCHS = (archArg ?? "sm_80,sm_89,sm_90").split(",");

const log = (m) => process.stdout.write(`[radixserve] cuda backend: ${m}\n`);

function venvNvcc() {
  const lib = join(VENV, "lib");
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib)) {
    const p = join(lib, py, "site-packages", "nvidia", "cu13", "bin", "nvcc");
    if (existsSync(p)) return p;
  }
  return undefined;
}

function findNvcc() {
  const candidates = [
    process.env.RADIXSERVE_NVCC,
    process.env.CUDA_HOME && join(process.env.CUDA_HOME, "bin", "nvcc"),
    ...(process.env.PATH ?? "").split(delimiter).map((d) => d && join(d, "nvcc")),
    "/usr/local/cuda/bin/nvcc",
    venvNvcc(),
  ];
  return candidates.find((c) => c && existsSync(c));
}

function installToolkit() {
  log(`installing the CUDA 13 compiler wheels into ${VENV} (about 1.2 GB)`);
  const py = spawnSync("python3", ["-m", "venv", VENV], { stdio: "inherit" });
  if (py.status !== 0) process.exit(py.status ?? 1);
  const pip = spawnSync(
    join(VENV, "bin", "pip"),
    ["install", "-q", "nvidia-cuda-nvcc", "nvidia-cuda-runtime", "nvidia-cublas", "nvidia-cuda-cccl"],
    { stdio: "inherit" },
  );
  if (pip.status !== 0) process.exit(pip.status ?? 1);
}

if (args.includes("--install-toolkit")) installToolkit();
const nvcc = findNvcc();
if (!nvcc) {
  log(
    "skipped (no nvcc: set RADIXSERVE_NVCC or CUDA_HOME, or run node scripts/build-cuda.mjs --install-toolkit)",
  );
  process.exit(0);
}

// Toolkit layout: system installs have include/ and lib64/; the wheels have include/ (+ include/cccl) and lib/.
const root = dirname(dirname(nvcc));
const includes = [
  join(root, "include"),
  join(root, "include", "cccl"),
  join(root, "targets", "x86_64-linux", "include"),
]
  .filter(existsSync)
  .map((d) => `-I${d}`);
const libDir = ["lib64", "lib", join("targets", "x86_64-linux", "lib")]
  .map((d) => join(root, d))
  .find((d) => existsSync(d) && readdirSync(d).some((f) => f.startsWith("libcudart.so")));

/** `-lname` when the unversioned link exists, else `-l:libname.so.N` (the wheels ship only versioned files). */
function libFlag(name) {
  if (!libDir) return `-l${name}`;
  const files = readdirSync(libDir).filter((f) => f.startsWith(`lib${name}.so`));
  if (files.includes(`lib${name}.so`)) return `-l${name}`;
  const versioned = files.filter((f) => /^lib\w+\.so\.\d+$/.test(f)).sort()[0];
  return versioned ? `-l:${versioned}` : `-l${name}`;
}

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { stdio: "inherit" });
  if (r.status !== 0) {
    process.stderr.write(`[radixserve] cuda backend: ${cmd} failed (exit ${r.status})\n`);
    process.exit(r.status ?? 1);
  }
}

mkdirSync(OUT, { recursive: true });
// Up to date when the library is newer than every source and header it is built from.
const lib = join(OUT, "librs_cuda.so");
const inputs = [
  ...readdirSync(join(SRC, "cuda")).map((f) => join(SRC, "cuda", f)),
  ...readdirSync(SRC)
    .filter((f) => f.endsWith(".h"))
    .map((f) => join(SRC, f)),
  fileURLToPath(import.meta.url),
];
if (
  !args.includes("--compile-only") &&
  !args.includes("--force") &&
  existsSync(lib) &&
  inputs.every((f) => statSync(f).mtimeMs < statSync(lib).mtimeMs)
) {
  log(`up to date (${lib})`);
  process.exit(0);
}
const gencode = ARCHS.flatMap((a) => ["-gencode", `arch=compute_${a.slice(3)},code=${a}`]);
const sources = ["kernels-cuda.cu", "backend-cuda.cu"];
const objects = [];
const t0 = Date.now();
for (const s of sources) {
  const obj = join(OUT, s.replace(/\.cu$/, ".o"));
  run(nvcc, [
    "-std=c++17",
    "-O3",
    "-c",
    "-Xcompiler",
    "-fPIC,-fvisibility=hidden",
    ...gencode,
    ...includes,
    `-I${SRC}`,
    join(SRC, "cuda", s),
    "-o",
    obj,
  ]);
  objects.push(obj);
}
if (args.includes("--compile-only")) {
  log(`compiled ${sources.length} sources with ${nvcc} for ${ARCHS.join(",")} in ${Date.now() - t0} ms`);
  process.exit(0);
}
run(nvcc, [
  "-shared",
  ...gencode,
  ...objects,
  "-o",
  lib,
  ...(libDir ? [`-L${libDir}`, `-Xlinker`, `-rpath=${libDir}`] : []),
  libFlag("cudart"),
  libFlag("cublas"),
  // Every symbol must resolve here: the addon loads this library RTLD_LOCAL and exports nothing to it.
  "-Xlinker",
  "--no-undefined",
]);
log(
  `built ${lib} with ${nvcc} for ${ARCHS.join(",")} in ${Date.now() - t0} ms (unverified on a GPU: see the engine README)`,
);
