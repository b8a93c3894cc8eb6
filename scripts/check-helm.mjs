#!/usr/bin/env node
// Checks the Helm chart with a real helm (built once through the Go module proxy and cached, see
// tools/kube-check/tools.mjs): for the default values and every example under
// deploy/helm/radixserve/ci/, `helm lint --strict`, then `helm template` validated offline by
// tools/kube-check (Kubernetes' API types with unknown fields rejected, Pod Security "restricted",
// read-only root filesystems, no service account token, cross-object references); and `helm
// package` carries the dashboards. kube-check also runs the API server's own defaulting and validation. test/deploy/chart-render.test.ts runs it and checks more
// (refusals, the schema, what each render holds).
//
//   node scripts/check-helm.mjs            (HELM=/path/to/helm to use an existing binary)
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureHelm, ensureKubeCheck, KUBE_CHECK_ARGS, RENDER_ARGS } from "../tools/kube-check/tools.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CHART = join(ROOT, "deploy", "helm", "radixserve");
const [HELM, KUBE_CHECK] = [await ensureHelm(), await ensureKubeCheck()];

function helm(args) {
  return spawnSync(HELM, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

/** Symlinked dashboards/ makes helm print a warning per run; it is expected, not a problem. */
const quiet = (text) =>
  text
    .split("\n")
    .filter((l) => l.trim() && !l.includes("found symbolic link in path"))
    .join("\n");

let failed = 0;
function report(ok, name, detail, more = "") {
  process.stdout.write(`${ok ? "ok  " : "FAIL"} ${name}: ${detail}\n`);
  if (!ok) {
    failed += 1;
    if (more) process.stdout.write(`${more}\n`);
  }
}

process.stdout.write(`${helm(["version", "--short"]).stdout.trim()} on ${CHART}\n`);
const valueSets = [
  ["defaults", []],
  ...readdirSync(join(CHART, "ci"))
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => [f, ["-f", join(CHART, "ci", f)]]),
];
for (const [name, args] of valueSets) {
  const lint = helm(["lint", CHART, "--strict", ...args]);
  report(
    lint.status === 0,
    `lint (${name})`,
    lint.status === 0 ? "ok" : "failed",
    quiet(lint.stdout + lint.stderr),
  );
  const render = helm(["template", "rs", CHART, ...RENDER_ARGS, ...args]);
  if (render.status !== 0) {
    report(false, `template (${name})`, quiet(render.stderr).split("\n")[0]);
    continue;
  }
  const check = spawnSync(KUBE_CHECK, [...KUBE_CHECK_ARGS], {
    input: render.stdout,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  let result;
  try {
    result = JSON.parse(check.stdout);
  } catch {
    report(false, `kube-check (${name})`, `exit ${check.status}`, check.stderr);
    continue;
  }
  const kinds = result.objects.map((o) => o.kind);
  report(
    check.status === 0,
    `template + kube-check (${name})`,
    `${kinds.length} objects, ${result.pods} pods pass "${result.level}"`,
    result.problems.join("\n"),
  );
}
// The packaged chart must carry the dashboards as files (dashboards/ is a symlink in the repo).
const pkgDir = mkdtempSync(join(tmpdir(), "radixserve-chart-"));
try {
  const pkg = helm(["package", CHART, "-d", pkgDir]);
  const tgz = readdirSync(pkgDir).find((f) => f.endsWith(".tgz"));
  const r = tgz
    ? helm(["template", "rs", join(pkgDir, tgz), ...RENDER_ARGS, "--show-only", "templates/dashboards.yaml"])
    : null;
  const ok = pkg.status === 0 && r?.status === 0 && r.stdout.includes("radixserve-overview.json:");
  report(ok, "package", ok ? "the packaged chart carries the dashboards" : "failed", quiet(pkg.stderr));
} finally {
  rmSync(pkgDir, { recursive: true, force: true });
}
process.stdout.write(failed ? `${failed} helm check(s) failed\n` : "helm chart checks passed\n");
process.exit(failed ? 1 : 0);
