/**
 * The Helm chart's command lines against the built CLI (`radixserve router|worker|make-model
 * --help`): every flag values.yaml passes through (`flags` maps, extraArgs) and every flag literal
 * in templates/_args.tpl must be a real flag of the command it goes to, with a value exactly when
 * the flag takes one; the mode and transport names the chart uses must be ones the CLI lists.
 *
 * The cluster flags (Redis discovery, NATS events, routing policy) are written by the chart only
 * under `cluster.enabled`; CLUSTER_FLAGS lists them and the CLI must have every one.
 * Needs the built CLI (npm run build); no helm (chart-render.test.ts renders the chart).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { type CliFlag, cliFlags, parseHelp, templateFlags } from "./cli-help.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CHART = join(ROOT, "deploy", "helm", "radixserve");

/** Flags the chart writes in cluster mode (templates/_args.tpl under cluster.enabled). */
const CLUSTER_FLAGS: { router: readonly string[]; worker: readonly string[] } = {
  router: ["--redis-url", "--nats-url", "--policy"],
  worker: ["--redis-url", "--nats-url", "--advertise-address"],
};

type FlagMap = Record<string, unknown>;

interface Values {
  disaggMode: string;
  kvTransport: string;
  cluster: { enabled: boolean };
  router: { flags?: FlagMap; extraArgs?: unknown[] };
  workers: {
    flags?: FlagMap;
    extraArgs?: unknown[];
    unified: { flags?: FlagMap };
    prefill: { flags?: FlagMap };
    decode: { flags?: FlagMap };
  };
}

function loadValues(): Values {
  return parse(readFileSync(join(CHART, "values.yaml"), "utf8")) as Values;
}

/** Problems of one values `flags` map (as _args.tpl renders it) against a command's flags. */
function checkFlagMap(where: string, map: FlagMap | undefined, cli: Map<string, CliFlag>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(map ?? {})) {
    const flag = cli.get(`--${key}`);
    if (!flag) {
      problems.push(`${where}.${key}: --${key} is not a flag of this command`);
      continue;
    }
    if (value === null || value === false) continue; // left out by the template
    if (value === true && flag.takesValue) problems.push(`${where}.${key}: --${key} needs a value, got true`);
    if (value !== true && !flag.takesValue)
      problems.push(`${where}.${key}: --${key} is a switch, use true/false`);
  }
  return problems;
}

function checkExtraArgs(where: string, args: unknown[] | undefined, cli: Map<string, CliFlag>): string[] {
  return (args ?? [])
    .filter((a): a is string => typeof a === "string" && a.startsWith("--"))
    .map((a) => a.split("=")[0]!)
    .filter((a) => !cli.has(a))
    .map((a) => `${where}: ${a} is not a flag of this command`);
}

describe("Helm chart flags match the radixserve CLI", () => {
  let router: Map<string, CliFlag>;
  let worker: Map<string, CliFlag>;
  let makeModel: Map<string, CliFlag>;
  const tpl = readFileSync(join(CHART, "templates", "_args.tpl"), "utf8");

  before(() => {
    router = cliFlags(ROOT, "router");
    worker = cliFlags(ROOT, "worker");
    makeModel = cliFlags(ROOT, "make-model");
  });

  it("reads the CLI's flags", () => {
    for (const f of ["--worker-urls", "--port", "--host"]) assert.ok(router.has(f), `router ${f}`);
    for (const f of ["--disagg-mode", "--model-path", "--metrics-port", "--tp"]) assert.ok(worker.has(f), f);
    assert.ok(makeModel.has("--out"));
  });

  it("values.yaml flags maps are real flags of the command they go to", () => {
    const v = loadValues();
    const problems = [
      ...checkFlagMap("router.flags", v.router.flags, router),
      ...checkExtraArgs("router.extraArgs", v.router.extraArgs, router),
      ...checkFlagMap("workers.flags", v.workers.flags, worker),
      ...checkExtraArgs("workers.extraArgs", v.workers.extraArgs, worker),
      ...(["unified", "prefill", "decode"] as const).flatMap((role) =>
        checkFlagMap(`workers.${role}.flags`, v.workers[role].flags, worker),
      ),
    ];
    assert.deepEqual(problems, []);
  });

  it("the example values files under ci/ use real flags too", () => {
    const files = readdirSync(join(CHART, "ci")).filter((f) => f.endsWith(".yaml"));
    assert.ok(files.length >= 2);
    for (const file of files) {
      const v = parse(readFileSync(join(CHART, "ci", file), "utf8")) as Partial<Values>;
      const problems = [
        ...checkFlagMap(`${file} router.flags`, v.router?.flags, router),
        ...checkFlagMap(`${file} workers.flags`, v.workers?.flags, worker),
        ...(["unified", "prefill", "decode"] as const).flatMap((role) =>
          checkFlagMap(`${file} workers.${role}.flags`, v.workers?.[role]?.flags, worker),
        ),
      ];
      assert.deepEqual(problems, []);
    }
  });

  for (const [define, command] of [
    ["radixserve.routerArgs", "router"],
    ["radixserve.workerArgs", "worker"],
    ["radixserve.makeModelArgs", "make-model"],
  ] as const) {
    it(`templates/_args.tpl ${define}: every flag is a ${command} flag`, () => {
      const cli = command === "router" ? router : command === "worker" ? worker : makeModel;
      const flags = templateFlags(tpl, define);
      assert.ok(flags.length >= 3, `only ${flags.length} flags found in ${define}`);
      const missing = flags.filter((f) => !cli.has(f.flag)).map((f) => f.flag);
      assert.deepEqual(missing, [], `${define} writes flags that \`radixserve ${command}\` does not have`);
    });
  }

  it("the chart's modes and transports are values the worker CLI lists", () => {
    const mode = worker.get("--disagg-mode")?.help ?? "";
    for (const role of ["unified", "prefill", "decode"]) assert.match(mode, new RegExp(`\\b${role}\\b`));
    const transports = worker.get("--kv-transport")?.help ?? "";
    const v = loadValues();
    assert.match(transports, new RegExp(`\\b${v.kvTransport}\\b`));
    for (const t of ["grpc", "tcp", "rdma"]) assert.match(transports, new RegExp(`\\b${t}\\b`), t);
    assert.ok(["unified", "disagg"].includes(v.disaggMode));
  });

  it("the CLI has the cluster flags the chart writes in cluster mode", () => {
    const missing = [
      ...CLUSTER_FLAGS.router.filter((f) => !router.has(f)).map((f) => `router ${f}`),
      ...CLUSTER_FLAGS.worker.filter((f) => !worker.has(f)).map((f) => `worker ${f}`),
    ];
    assert.deepEqual(missing, []);
  });
});

describe("chart flag checks fail on bad input", () => {
  const cli = parseHelp(
    "Options:\n  --port <port>            gRPC port\n  --disable-radix-cache    no prefix\n                           reuse\n",
  );

  it("parses wrapped commander help", () => {
    assert.deepEqual([...cli.keys()], ["--port", "--disable-radix-cache"]);
    assert.equal(cli.get("--disable-radix-cache")?.help, "no prefix reuse");
    assert.equal(cli.get("--port")?.takesValue, true);
  });

  it("an unknown flag, a switch given a value and a value flag given true", () => {
    const problems = checkFlagMap("x", { prot: 1, "disable-radix-cache": 5, port: true }, cli).join("\n");
    assert.match(problems, /--prot is not a flag/);
    assert.match(problems, /--disable-radix-cache is a switch/);
    assert.match(problems, /--port needs a value/);
  });

  it("finds template flags and their conditions", () => {
    const tpl = [
      '{{- define "a" -}}',
      "- --port",
      "{{- if .Values.cluster.enabled }}",
      "- --redis-url",
      "{{- else }}",
      '- "--worker-urls"',
      "{{- end }}",
      "{{- end -}}",
    ].join("\n");
    assert.deepEqual(templateFlags(tpl, "a"), [
      { flag: "--port", conditions: [] },
      { flag: "--redis-url", conditions: [".Values.cluster.enabled"] },
      { flag: "--worker-urls", conditions: ["!.Values.cluster.enabled"] },
    ]);
  });
});
