/**
 * The two images' Dockerfiles (deploy/docker/Dockerfile: CPU, Dockerfile.cuda: CUDA backend)
 * against the repository, without a Docker daemon: every file a build stage copies from the
 * context exists and is not excluded by the Dockerfile's .dockerignore, every workspace package's
 * manifest reaches the dependency layer, `--from` names a stage or image, the entrypoint's script
 * is built from a real source, the uid is the chart's runAsUser, and the image names and tags the
 * Dockerfiles document are the ones the chart's values point at.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DOCKER = join(ROOT, "deploy", "docker");
const CHART = join(ROOT, "deploy", "helm", "radixserve");

interface Instruction {
  op: string;
  args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split("\n")
    .filter((l) => !/^\s*#/.test(l))
    .join("\n")
    .replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((l) => /^\s*([A-Z]+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ op: m[1]!, args: m[2]!.trim() }));
}

/** .dockerignore patterns as a matcher (the forms used here: `dir`, `**\/name`, `*.ext` suffixes). */
function ignoredBy(dockerignore: string): (path: string) => boolean {
  const patterns = dockerignore
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  return (path) =>
    patterns.some((p) => {
      const parts = path.split("/");
      if (p.startsWith("**/")) {
        const rest = p.slice(3);
        if (rest.startsWith("*.")) return parts.some((x) => x.endsWith(rest.slice(1)));
        return parts.includes(rest);
      }
      return path === p || path.startsWith(`${p}/`);
    });
}

const appVersion = String(
  (parse(readFileSync(join(CHART, "Chart.yaml"), "utf8")) as { appVersion: string }).appVersion,
);
const values = parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as {
  image: { repository: string; tag: string };
  gpu: { image: { repository: string; tag: string } };
};
const workspacePackages = readdirSync(join(ROOT, "packages")).filter((d) =>
  existsSync(join(ROOT, "packages", d, "package.json")),
);

for (const [file, tag] of [
  ["Dockerfile", appVersion],
  ["Dockerfile.cuda", `${appVersion}-cuda`],
] as const) {
  describe(`deploy/docker/${file}`, () => {
    const text = readFileSync(join(DOCKER, file), "utf8");
    const steps = instructions(text);
    const ignored = ignoredBy(readFileSync(join(DOCKER, `${file}.dockerignore`), "utf8"));
    const stages = steps
      .filter((s) => s.op === "FROM")
      .map((s) => /\bAS\s+(\S+)$/i.exec(s.args)?.[1])
      .filter((s): s is string => s !== undefined);
    const copies = steps
      .filter((s) => s.op === "COPY")
      .map((s) => s.args.split(/\s+/))
      .map((words) => ({
        from: words.find((w) => w.startsWith("--from="))?.slice(7),
        paths: words.filter((w) => !w.startsWith("--")),
      }));

    it("copies only files that exist in the build context and are not ignored", () => {
      const sources = copies.filter((c) => !c.from).flatMap((c) => c.paths.slice(0, -1));
      assert.ok(sources.length >= 10, `only ${sources.length} COPY sources`);
      const problems = sources.flatMap((src) => [
        ...(existsSync(join(ROOT, src)) ? [] : [`${src} does not exist`]),
        ...(ignored(src) ? [`${src} is excluded by ${file}.dockerignore`] : []),
      ]);
      assert.deepEqual(problems, []);
    });

    it("copies every workspace package's manifest before the dependency install", () => {
      const manifests = copies
        .flatMap((c) => c.paths)
        .filter((p) => /^packages\/[^/]+\/package\.json$/.test(p));
      assert.deepEqual(manifests.sort(), workspacePackages.map((d) => `packages/${d}/package.json`).sort());
    });

    it("--from names a stage of this file", () => {
      for (const c of copies.filter((x) => x.from)) assert.ok(stages.includes(c.from!), `--from=${c.from}`);
      assert.ok(stages.includes("build") && stages.includes("runtime"), stages.join(","));
    });

    it("runs the shared build steps and an entrypoint built from a real source", () => {
      const runs = steps.filter((s) => s.op === "RUN").map((s) => s.args);
      for (const step of ["deps", "build", "prune"])
        assert.ok(
          runs.some((r) => r.includes(`build-app.sh ${step}`)),
          `build-app.sh ${step}`,
        );
      const script = readFileSync(join(DOCKER, "build-app.sh"), "utf8");
      for (const step of ["deps", "build", "prune"]) assert.match(script, new RegExp(`^${step}\\)`, "m"));
      const link = /ln -s \/app\/(\S+)\/dist\/(\S+)\.js \/usr\/local\/bin\/radixserve/.exec(runs.join("\n"));
      assert.ok(link, "radixserve symlink");
      assert.ok(existsSync(join(ROOT, link[1]!, "src", `${link[2]}.ts`)), `${link[1]}/src/${link[2]}.ts`);
      assert.deepEqual(
        steps.filter((s) => s.op === "ENTRYPOINT").map((s) => s.args),
        ['["/usr/bin/tini", "--", "radixserve"]'],
      );
    });

    it("runs as the chart's uid 1000, numerically", () => {
      assert.deepEqual(
        steps.filter((s) => s.op === "USER").map((s) => s.args),
        ["1000:1000"],
      );
      const router = readFileSync(join(CHART, "templates", "router.yaml"), "utf8");
      assert.match(router, /radixserve\.podSecurityContext" 1000/);
    });

    it(`documents the image the chart points at (${values.image.repository}:${tag})`, () => {
      assert.ok(text.includes(`-f deploy/docker/${file} -t ${values.image.repository}:${tag} .`));
      if (file === "Dockerfile.cuda") {
        // gpu.image defaults: image.repository and "<appVersion>-cuda" (templates/_helpers.tpl).
        assert.deepEqual(values.gpu.image, { repository: "", tag: "" });
        const helpers = readFileSync(join(CHART, "templates", "_helpers.tpl"), "utf8");
        assert.match(helpers, /printf "%s-cuda" \(default \.Chart\.AppVersion \.Values\.image\.tag\)/);
        assert.match(text, /FROM nvidia\/cuda:\$\{CUDA_VERSION\}-runtime-\$\{UBUNTU\} AS runtime/);
        assert.match(text, /test -f packages\/engine-native\/build\/cuda\/librs_cuda\.so/);
        // The engine reads it (packages/engine-native/src/engine.ts) to pick its CUDA backend.
        assert.match(text, /RADIXSERVE_ENGINE_BACKEND=cuda/);
        const engine = readFileSync(join(ROOT, "packages", "engine-native", "src", "engine.ts"), "utf8");
        assert.match(engine, /process\.env\.RADIXSERVE_ENGINE_BACKEND/);
      }
    });
  });
}

describe("Dockerfile checks fail on bad input", () => {
  it("joins continuation lines and drops comments", () => {
    assert.deepEqual(instructions("# c\nRUN a \\\n b\nCOPY x y\n"), [
      { op: "RUN", args: "a   b" },
      { op: "COPY", args: "x y" },
    ]);
  });

  it("matches .dockerignore folders, **/ names and **/*.ext suffixes", () => {
    const ignored = ignoredBy("# x\n**/node_modules\n**/*.tsbuildinfo\ndeploy/helm\n");
    assert.ok(ignored("packages/a/node_modules/b"));
    assert.ok(ignored("packages/a/tsconfig.tsbuildinfo"));
    assert.ok(ignored("deploy/helm/radixserve/values.yaml"));
    assert.ok(!ignored("deploy/docker/build-app.sh"));
    assert.ok(!ignored("deploy/helmet"));
  });
});
