#!/usr/bin/env node
// Checks the Helm chart with a real helm when one is on PATH: `helm lint` and `helm template` with
// the default values and each example under deploy/helm/radixserve/ci/ (the disagg/GPU one also
// with the Prometheus Operator CRDs declared, so the monitors render), plus values that must be
// refused with a clear message. Without helm it prints one line and exits 0: CI may lack helm, and
// the chart's flags and dashboards are tested without it (test/deploy/).
//
//   node scripts/check-helm.mjs            (HELM=/path/to/helm to pick a binary)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CHART = join(ROOT, "deploy", "helm", "radixserve");
const HELM = process.env.HELM || "helm";
// A helm built with `go install` reports Kubernetes v1.20 to templates; render for a current one.
const KUBE = ["--kube-version", "1.31.0"];
const MONITORING_CRDS = [
  "--api-versions",
  "monitoring.coreos.com/v1/ServiceMonitor",
  "--api-versions",
  "monitoring.coreos.com/v1/PodMonitor",
];

function helm(args) {
  return spawnSync(HELM, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

const version = helm(["version", "--short"]);
if (version.error) {
  process.stdout.write(
    `helm not found (${HELM}): the Helm chart was not checked (install helm 3 to lint it)\n`,
  );
  process.exit(0);
}

/** Symlinked dashboards/ makes helm print a warning per run; it is expected, not a problem. */
const quiet = (text) =>
  text
    .split("\n")
    .filter((l) => l.trim() && !l.includes("found symbolic link in path"))
    .join("\n");

let failed = 0;
function check(name, args, expect) {
  const r = helm(args);
  const ok = expect === "ok" ? r.status === 0 : r.status !== 0 && expect.test(r.stderr);
  const kinds = r.status === 0 ? (r.stdout.match(/^kind: \w+/gm) ?? []).map((k) => k.slice(6)) : [];
  const detail =
    r.status === 0 ? (kinds.length ? `${kinds.length} objects: ${kinds.join(", ")}` : "ok") : quiet(r.stderr);
  process.stdout.write(`${ok ? "ok  " : "FAIL"} ${name}: ${detail.split("\n")[0]}\n`);
  if (!ok) {
    failed += 1;
    process.stdout.write(`${quiet(r.stdout)}\n${quiet(r.stderr)}\n`);
  }
}

process.stdout.write(`helm ${version.stdout.trim()} on ${CHART}\n`);
const ci = (f) => ["-f", join(CHART, "ci", f)];
check("lint (defaults)", ["lint", CHART, "--strict"], "ok");
check("lint (disagg + GPU)", ["lint", CHART, "--strict", ...ci("disagg-gpu-values.yaml")], "ok");
check("lint (cluster)", ["lint", CHART, "--strict", ...ci("cluster-values.yaml")], "ok");
check("template (defaults: unified)", ["template", "rs", CHART, ...KUBE], "ok");
check(
  "template (disagg + GPU + monitors)",
  ["template", "rs", CHART, ...KUBE, ...MONITORING_CRDS, ...ci("disagg-gpu-values.yaml")],
  "ok",
);
check(
  "template (cluster: Redis + NATS)",
  ["template", "rs", CHART, ...KUBE, ...ci("cluster-values.yaml")],
  "ok",
);
check(
  "template refuses disaggMode=both",
  ["template", "rs", CHART, ...KUBE, "--set", "disaggMode=both"],
  /disaggMode must be unified or disagg/,
);
check(
  "template refuses kvTransport=shm across pods",
  ["template", "rs", CHART, ...KUBE, "--set", "disaggMode=disagg", "--set", "kvTransport=shm"],
  /kvTransport must be tcp, auto, grpc or rdma/,
);
check(
  "template refuses model.source=pvc without a claim",
  ["template", "rs", CHART, ...KUBE, "--set", "model.source=pvc"],
  /needs model.pvc.claimName/,
);
check(
  "template refuses zero workers",
  ["template", "rs", CHART, ...KUBE, "--set", "workers.unified.replicas=0"],
  /needs at least one worker/,
);
// The packaged chart must carry the dashboards as files (dashboards/ is a symlink in the repo).
const pkgDir = mkdtempSync(join(tmpdir(), "radixserve-chart-"));
try {
  check("package", ["package", CHART, "-d", pkgDir], "ok");
  const tgz = readdirSync(pkgDir).find((f) => f.endsWith(".tgz"));
  const r = tgz
    ? helm(["template", "rs", join(pkgDir, tgz), ...KUBE, "--show-only", "templates/dashboards.yaml"])
    : null;
  const ok = r?.status === 0 && r.stdout.includes("radixserve-overview.json:");
  process.stdout.write(`${ok ? "ok  " : "FAIL"} packaged chart carries the dashboards\n`);
  if (!ok) failed += 1;
} finally {
  rmSync(pkgDir, { recursive: true, force: true });
}
process.stdout.write(failed ? `${failed} helm check(s) failed\n` : "helm chart checks passed\n");
process.exit(failed ? 1 : 0);
