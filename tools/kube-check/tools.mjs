#!/usr/bin/env node
// Finds or builds the two Go programs the chart checks use, cached outside the repository
// (~/.cache/radixserve, or $RADIXSERVE_CACHE_DIR) so later runs start at once:
//   helm        `go install helm.sh/helm/v3/cmd/helm@HELM_VERSION` through the Go module proxy
//               ($HELM picks an existing binary instead)
//   kube-check  this folder's validator (Kubernetes API types + Pod Security admission), rebuilt
//               when its sources change (the cache key is their hash)
// Go itself: $GO, `go` on PATH, /usr/local/go/bin/go when it is Go 1.21+; otherwise the official
// toolchain module (golang.org/toolchain, GO_TOOLCHAIN) is fetched from the Go module proxy into
// the cache.
//
//   node tools/kube-check/tools.mjs      prints {"helm": PATH, "kubeCheck": PATH} (progress on stderr)
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

export const HELM_VERSION = "v3.16.4";
const GO_TOOLCHAIN = "go1.23.4";
const HERE = fileURLToPath(new URL(".", import.meta.url));
const CACHE = process.env.RADIXSERVE_CACHE_DIR || join(homedir(), ".cache", "radixserve");
const PROXY = (process.env.GOPROXY || "https://proxy.golang.org").split(/[,|]/)[0];

/**
 * What every `helm template` of the chart checks gets: a current Kubernetes (a `go install`ed helm
 * reports v1.20 to templates), a namespace, and the Prometheus Operator's monitor kinds.
 */
export const RENDER_ARGS = [
  "--kube-version",
  "1.31.0",
  "--namespace",
  "radixserve",
  "--api-versions",
  "monitoring.coreos.com/v1/ServiceMonitor",
  "--api-versions",
  "monitoring.coreos.com/v1/PodMonitor",
];

/** kube-check's flags for the chart: the namespace of RENDER_ARGS, the chart's own policy on top of "restricted". */
export const KUBE_CHECK_ARGS = ["-read-only-root", "-no-token", "-namespace", "radixserve"];

const log = (m) => process.stderr.write(`[radixserve] ${m}\n`);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
  if (r.error) throw new Error(`could not run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}):\n${r.stderr}`);
  return r.stdout;
}

/** Builds into a temporary folder and renames it into place, so a concurrent run never sees half a binary. */
function buildInto(dir, binary, build) {
  const target = join(dir, binary);
  if (existsSync(target)) return target;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    build(tmp);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return target;
}

function onPath(name) {
  for (const d of (process.env.PATH ?? "").split(delimiter))
    if (d && existsSync(join(d, name))) return join(d, name);
  return undefined;
}

/** The toolchain module's zip from the Go module proxy, unpacked with Python's zipfile. */
export async function downloadGo() {
  const dir = join(CACHE, "go", GO_TOOLCHAIN);
  const go = join(dir, "bin", "go");
  if (existsSync(go)) return go;
  const version = `v0.0.1-${GO_TOOLCHAIN}.linux-amd64`;
  const url = `${PROXY}/golang.org/toolchain/@v/${version}.zip`;
  log(`fetching the Go toolchain: ${url}`);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const zip = join(CACHE, "go", `${version}.zip`);
  mkdirSync(join(CACHE, "go"), { recursive: true });
  writeFileSync(zip, Buffer.from(await res.arrayBuffer()));
  const unpacked = `${dir}.unzip-${process.pid}`;
  run("python3", ["-m", "zipfile", "-e", zip, unpacked]);
  const root = join(unpacked, `golang.org/toolchain@${version}`);
  // zipfile drops the executable bits.
  for (const sub of ["bin", join("pkg", "tool", "linux_amd64")])
    for (const f of readdirSync(join(root, sub))) chmodSync(join(root, sub, f), 0o755);
  renameSync(root, dir);
  rmSync(unpacked, { recursive: true, force: true });
  rmSync(zip, { force: true });
  return go;
}

/** True for a Go new enough to fetch the toolchain a go.mod asks for (GOTOOLCHAIN, Go 1.21+). */
function switchesToolchains(go) {
  const r = spawnSync(go, ["env", "GOVERSION"], { encoding: "utf8" });
  const m = /^go1\.(\d+)/.exec(r.stdout ?? "");
  return r.status === 0 && m !== null && Number(m[1]) >= 21;
}

export async function findGo() {
  const local = [process.env.GO, onPath("go"), "/usr/local/go/bin/go"].find((g) => g && existsSync(g));
  if (local && switchesToolchains(local)) return local;
  if (local) log(`${local} is older than Go 1.21 (it cannot fetch the toolchain the builds need)`);
  return downloadGo();
}

function goEnv() {
  // A toolchain older than a go.mod's `go` line fetches the right one through the proxy.
  return { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN || "auto" };
}

export async function ensureHelm() {
  if (process.env.HELM) return process.env.HELM;
  const dir = join(CACHE, "helm", HELM_VERSION);
  if (existsSync(join(dir, "helm"))) return join(dir, "helm");
  const go = await findGo();
  log(`building helm ${HELM_VERSION} with ${go} (once; cached in ${dir})`);
  return buildInto(dir, "helm", (tmp) =>
    run(go, ["install", `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], { env: { ...goEnv(), GOBIN: tmp } }),
  );
}

export async function ensureKubeCheck() {
  const h = createHash("sha256");
  for (const f of readdirSync(HERE).sort())
    if (f.endsWith(".go") || f === "go.mod" || f === "go.sum")
      h.update(f).update(readFileSync(join(HERE, f)));
  const dir = join(CACHE, "kube-check", h.digest("hex").slice(0, 16));
  if (existsSync(join(dir, "kube-check"))) return join(dir, "kube-check");
  const go = await findGo();
  log(`building tools/kube-check with ${go} (cached in ${dir})`);
  return buildInto(dir, "kube-check", (tmp) =>
    run(go, ["build", "-mod=readonly", "-buildvcs=false", "-o", join(tmp, "kube-check"), "."], {
      cwd: HERE,
      env: goEnv(),
    }),
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    const [helm, kubeCheck] = [await ensureHelm(), await ensureKubeCheck()];
    process.stdout.write(`${JSON.stringify({ helm, kubeCheck })}\n`);
  } catch (e) {
    log(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}
