/**
 * The Helm chart rendered by a real helm and checked offline by tools/kube-check (Kubernetes' own
 * API types with unknown fields rejected, the API server's own defaulting and validation, Pod
 * Security admission's "restricted" checks, read-only root filesystems, no service account token,
 * cross-object references): the default values and
 * every example under deploy/helm/radixserve/ci/, what each render holds (NetworkPolicies, PDBs,
 * /dev/shm, the CUDA image, test hooks), the values the chart refuses (schema typos, a tp the
 * model's heads cannot split), and that the validator itself fails on a bad manifest.
 *
 * helm and kube-check are built once through the Go module proxy and cached under
 * ~/.cache/radixserve (tools/kube-check/tools.mjs); the first run takes a few minutes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { MODEL_PRESETS } from "@radixserve/core";
import { parse, parseAllDocuments } from "yaml";
import { ensureHelm, ensureKubeCheck, KUBE_CHECK_ARGS, RENDER_ARGS } from "../../tools/kube-check/tools.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHART = join(ROOT, "deploy", "helm", "radixserve");

interface KubeReport {
  objects: { kind: string; name: string }[];
  pods: number;
  level: string;
  problems: string[];
}

// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are checked field by field
type Manifest = any;

let helmBin = "";
let kubeCheckBin = "";

function helm(args: string[]) {
  return spawnSync(helmBin, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

/** `helm template` with these extra arguments; throws with helm's message when it fails. */
function render(args: string[]): string {
  const r = helm(["template", "rs", CHART, ...RENDER_ARGS, ...args]);
  if (r.status !== 0) throw new Error(`helm template ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/** The error `helm template` fails with (asserting that it fails). */
function refusal(args: string[]): string {
  const r = helm(["template", "rs", CHART, ...RENDER_ARGS, ...args]);
  assert.notEqual(r.status, 0, `helm template ${args.join(" ")} should fail`);
  return r.stderr;
}

function kubeCheck(manifests: string): { status: number | null; report: KubeReport } {
  const r = spawnSync(kubeCheckBin, [...KUBE_CHECK_ARGS], {
    input: manifests,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.ok(r.stdout, `kube-check printed nothing (exit ${r.status}): ${r.stderr}`);
  return { status: r.status, report: JSON.parse(r.stdout) as KubeReport };
}

function objects(manifests: string): Manifest[] {
  return parseAllDocuments(manifests)
    .map((d) => d.toJS())
    .filter((o) => o);
}

const ofKind = (objs: Manifest[], kind: string) => objs.filter((o) => o.kind === kind);
const named = (objs: Manifest[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name);
const podSpecs = (objs: Manifest[]) =>
  objs.flatMap((o) => (o.kind === "Pod" ? [o.spec] : o.spec?.template?.spec ? [o.spec.template.spec] : []));

const valueFiles = readdirSync(join(CHART, "ci"))
  .filter((f) => f.endsWith(".yaml"))
  .sort();
const ci = (file: string) => ["-f", join(CHART, "ci", file)];

describe("Helm chart renders valid, restricted Kubernetes objects", () => {
  before(async () => {
    helmBin = await ensureHelm();
    kubeCheckBin = await ensureKubeCheck();
  });

  for (const [name, args] of [
    ["defaults", []] as [string, string[]],
    ...valueFiles.map((f) => [f, ci(f)]),
  ] as [string, string[]][]) {
    it(`${name}: every object decodes strictly and every pod passes "restricted"`, () => {
      const out = render(args);
      const { status, report } = kubeCheck(out);
      assert.deepEqual(report.problems, []);
      assert.equal(status, 0);
      assert.equal(report.level, "restricted");
      assert.equal(report.objects.length, objects(out).length, "kube-check saw every object");
      assert.ok(report.pods >= 2, `only ${report.pods} pods`);
    });
  }

  it("defaults: ServiceAccount without a token, NetworkPolicies, PDBs, test hooks, no /dev/shm at tp 1", () => {
    const objs = objects(render([]));
    const sa = named(objs, "ServiceAccount", "rs-radixserve");
    assert.equal(sa?.automountServiceAccountToken, false);
    for (const spec of podSpecs(objs)) {
      assert.equal(spec.serviceAccountName, "rs-radixserve");
      assert.equal(spec.automountServiceAccountToken, false);
      assert.equal(spec.securityContext.seccompProfile.type, "RuntimeDefault");
      assert.ok(!(spec.volumes ?? []).some((v: Manifest) => v.name === "dshm"));
    }
    assert.deepEqual(
      ofKind(objs, "NetworkPolicy")
        .map((o) => o.metadata.name)
        .sort(),
      ["rs-radixserve-router", "rs-radixserve-workers"],
    );
    assert.deepEqual(
      ofKind(objs, "PodDisruptionBudget")
        .map((o) => o.metadata.name)
        .sort(),
      ["rs-radixserve-router", "rs-radixserve-unified"],
    );
    const tests = ofKind(objs, "Pod");
    assert.deepEqual(tests.map((p) => p.metadata.name).sort(), [
      "rs-radixserve-test-chat",
      "rs-radixserve-test-health",
    ]);
    for (const p of tests) assert.equal(p.metadata.annotations["helm.sh/hook"], "test");
    const router = named(objs, "Deployment", "rs-radixserve-router");
    const probe = router.spec.template.spec.containers[0];
    assert.equal(probe.readinessProbe.httpGet.path, "/readyz");
    assert.equal(probe.livenessProbe.httpGet.path, "/livez");
  });

  it("the router's probe paths are routes the router serves (docs/openapi.json)", () => {
    const api = JSON.parse(readFileSync(join(ROOT, "docs", "openapi.json"), "utf8")) as { paths: object };
    const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as {
      router: { probes: { livenessPath: string; readinessPath: string } };
    };
    for (const path of Object.values(values.router.probes))
      assert.ok(path in api.paths, `${path} is not in openapi.json`);
  });

  it("NetworkPolicy: only the router is open; workers admit the router and each other; Redis/NATS the release", () => {
    const objs = objects(render(ci("cluster-values.yaml")));
    const router = named(objs, "NetworkPolicy", "rs-radixserve-router");
    assert.deepEqual(router.spec.ingress, [{ ports: [{ port: "http", protocol: "TCP" }] }]);
    const workers = named(objs, "NetworkPolicy", "rs-radixserve-workers");
    assert.deepEqual(workers.spec.podSelector.matchExpressions[0].values, ["prefill", "decode"]);
    assert.equal(workers.spec.ingress.length, 1, "no metrics peers by default");
    assert.deepEqual(workers.spec.ingress[0].ports, [
      { port: "grpc", protocol: "TCP" },
      { port: "http-metrics", protocol: "TCP" },
      { port: 9500, protocol: "TCP" },
    ]);
    assert.deepEqual(workers.spec.ingress[0].from[0].podSelector.matchExpressions[0].values, [
      "router",
      "prefill",
      "decode",
    ]);
    for (const svc of ["redis", "nats"]) {
      const np = named(objs, "NetworkPolicy", `rs-radixserve-${svc}`);
      assert.deepEqual(np.spec.ingress[0].from, [
        {
          podSelector: {
            matchLabels: { "app.kubernetes.io/name": "radixserve", "app.kubernetes.io/instance": "rs" },
          },
        },
      ]);
    }
    // routerFrom narrows the router's sources and keeps the release's own pods (helm test).
    const narrowed = named(
      objects(render(ci("pvc-tp-values.yaml"))),
      "NetworkPolicy",
      "rs-radixserve-router",
    );
    assert.deepEqual(narrowed.spec.ingress[0].from, [
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } },
      {
        podSelector: {
          matchLabels: { "app.kubernetes.io/name": "radixserve", "app.kubernetes.io/instance": "rs" },
        },
      },
    ]);
    // Off: none at all; external services: no policy for services the chart does not run.
    assert.equal(ofKind(objects(render(ci("no-policies-values.yaml"))), "NetworkPolicy").length, 0);
    const external = objects(render(ci("cluster-external-values.yaml")));
    assert.equal(ofKind(external, "NetworkPolicy").length, 2);
    assert.ok(!external.some((o) => /-(redis|nats)$/.test(o.metadata.name)));
  });

  it("TP > 1 and the auto transport get a memory-backed /dev/shm; GPU workers run the CUDA image", () => {
    const tp = objects(render(ci("disagg-tp-values.yaml")));
    for (const sts of ofKind(tp, "StatefulSet")) {
      const spec = sts.spec.template.spec;
      assert.deepEqual(
        spec.volumes.find((v: Manifest) => v.name === "dshm"),
        { name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "1Gi" } },
      );
      assert.ok(spec.containers[0].volumeMounts.some((m: Manifest) => m.mountPath === "/dev/shm"));
    }
    const gpu = objects(render(ci("disagg-gpu-values.yaml")));
    for (const sts of ofKind(gpu, "StatefulSet")) {
      const c = sts.spec.template.spec.containers[0];
      assert.equal(c.image, "radixserve:0.1.0-cuda");
      assert.deepEqual(
        c.env.find((e: Manifest) => e.name === "RADIXSERVE_ENGINE_BACKEND"),
        { name: "RADIXSERVE_ENGINE_BACKEND", value: "cuda" },
      );
      assert.equal(c.resources.limits["nvidia.com/gpu"], 2);
    }
    assert.equal(
      named(gpu, "Deployment", "rs-radixserve-router").spec.template.spec.containers[0].image,
      "radixserve:0.1.0",
    );
    assert.ok(
      !ofKind(tp, "StatefulSet").some((o) => JSON.stringify(o).includes("RADIXSERVE_ENGINE_BACKEND")),
    );
    const never = objects(render([...ci("disagg-tp-values.yaml"), "--set", "workers.devShm.mode=never"]));
    assert.ok(podSpecs(never).every((s) => !(s.volumes ?? []).some((v: Manifest) => v.name === "dshm")));
  });

  it("the values schema refuses unknown keys (typos) and wrong types", () => {
    assert.match(refusal(["--set", "routr.replicas=2"]), /Additional property routr is not allowed/);
    assert.match(refusal(["--set", "workers.decode.flgas.x=1"]), /Additional property flgas is not allowed/);
    assert.match(
      refusal(["--set", "networkPolicy.enabeld=false"]),
      /Additional property enabeld is not allowed/,
    );
    assert.match(refusal(["--set-string", "tp=two"]), /tp: Invalid type/);
    assert.match(refusal(["--set", "kvTransport=shm"]), /kvTransport/);
    assert.match(refusal(["--set", "disaggMode=both"]), /disaggMode/);
  });

  it("a tp that does not divide the model's heads is refused where the chart knows the shape", () => {
    assert.match(
      refusal(["--set", "tp=4"]),
      /tp=4 does not divide the attention heads 6, KV heads 6 of the tiny preset/,
    );
    assert.match(
      refusal(["--set", "tp=3", "--set", "model.generate.preset=tiny-gqa"]),
      /tp=3 does not divide the KV heads 2 of the tiny-gqa preset/,
    );
    assert.match(
      refusal([...ci("disagg-gpu-values.yaml"), "--set", "tp=3"]),
      /tp=3 does not divide .*model\.shape/,
    );
    // Unknown shape (a PVC model without model.shape): left to the worker, which refuses it in one line.
    render(["--set", "model.source=pvc", "--set", "model.pvc.claimName=m", "--set", "tp=3"]);
    render(["--set", "tp=2"]);
  });

  it("the chart's preset shapes are make-model's", () => {
    const tpl = readFileSync(join(CHART, "templates", "_checks.tpl"), "utf8");
    const block = /define "radixserve.presetShapes" -\}\}\n([\s\S]*?)\{\{- end/.exec(tpl)?.[1];
    assert.ok(block);
    const chart = parse(block) as Record<
      string,
      { attentionHeads: number; kvHeads: number; intermediateSize: number }
    >;
    const core = Object.fromEntries(
      Object.values(MODEL_PRESETS).map((p) => [
        p.name,
        { attentionHeads: p.numHeads, kvHeads: p.numKvHeads, intermediateSize: p.intermediateSize },
      ]),
    );
    assert.deepEqual(chart, core);
  });

  it("other refusals: missing claim, zero workers, monitoring behind a NetworkPolicy without metricsFrom", () => {
    assert.match(refusal(["--set", "model.source=pvc"]), /needs model.pvc.claimName/);
    assert.match(refusal(["--set", "workers.unified.replicas=0"]), /needs at least one worker/);
    assert.match(refusal(["--set", "monitoring.enabled=true"]), /needs networkPolicy.metricsFrom/);
    render(["--set", "monitoring.enabled=true", "--set", "networkPolicy.enabled=false"]);
  });

  it("model.source=hostPath: the only thing outside 'restricted' is the hostPath volume (documented)", () => {
    const { status, report } = kubeCheck(
      render(["--set", "model.source=hostPath", "--set", "model.hostPath.path=/srv/models"]),
    );
    assert.equal(status, 1);
    assert.equal(report.problems.length, 2, report.problems.join("\n")); // the router and the worker mount the model
    for (const p of report.problems)
      assert.match(p, /restricted volume types \(volume "model" uses restricted volume type "hostPath"\)$/);
  });

  it("kube-check fails on a pod outside 'restricted', a writable root, an unknown field, a dangling reference", () => {
    // Disaggregated: the decode worker's args hold a $(POD_IP) reference.
    const good = render(["--set", "disaggMode=disagg"]);
    assert.deepEqual(kubeCheck(good).report.problems, []);
    const bad = (from: string | RegExp, to: string) => {
      const out = good.replace(from, to);
      assert.ok(out !== good, `${from} not found in the render`);
      const { status, report } = kubeCheck(out);
      assert.equal(status, 1);
      return report.problems.join("\n");
    };
    assert.match(
      bad("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"),
      /violates PodSecurity "restricted:latest": allowPrivilegeEscalation/,
    );
    assert.match(bad(/ {4}seccompProfile:\n {6}type: RuntimeDefault\n/, ""), /seccompProfile/);
    assert.match(
      bad("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false"),
      /root filesystem is writable/,
    );
    assert.match(
      bad("automountServiceAccountToken: false\n      securityContext", "securityContext"),
      /service account token/,
    );
    assert.match(
      bad(
        "terminationGracePeriodSeconds:",
        "terminationGracePeriod: 1\n      terminationGracePeriodSeconds:",
      ),
      /unknown field "spec.template.spec.terminationGracePeriod"/,
    );
    assert.match(
      bad("mountPath: /tmp", "mountPath: /tmp\n            - name: cache\n              mountPath: /cache"),
      /mounts volume "cache", which the pod does not declare/,
    );
    assert.match(bad("$(POD_IP)", "$(POD_IPP)"), /refers to \$\(POD_IPP\)/);
    // What only the API server's validation catches: ranges and requests above limits.
    assert.match(
      bad("periodSeconds: 5", "periodSeconds: -5"),
      /API server validation: .*periodSeconds: Invalid value: -5/,
    );
    assert.match(
      bad("memory: 8Gi", "memory: 1Gi"),
      /API server validation: pod rs-radixserve-prefill-0: .*requests: Invalid value: "2Gi": must be less than or equal to memory limit/,
    );
  });

  it("scripts/check-helm.mjs: helm lint --strict, kube-check and helm package pass", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "scripts", "check-helm.mjs")], {
      encoding: "utf8",
      env: { ...process.env, HELM: helmBin },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /helm chart checks passed/);
    assert.equal((r.stdout.match(/^ok {3}lint/gm) ?? []).length, valueFiles.length + 1);
  });
});
