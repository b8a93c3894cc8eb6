/**
 * Fuzzes the served OpenAPI description with schemathesis (from PyPI, installed by
 * scripts/schemathesis.mjs into the cache folder) against a real router and worker with an API
 * key: a bounded number of generated requests per operation (valid and invalid bodies, headers,
 * undeclared methods, missing auth), and every check but "schema-valid data must be accepted"
 * (a valid body can still exceed the model's context: a documented 400). No answer may be a 5xx
 * or differ from what docs/openapi.json says, and the cluster serves normally afterwards.
 *
 * The spec the fuzzer reads is the served one with `model` pinned to the served model's id, so
 * generated requests reach a worker instead of stopping at 404 model_not_found.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Cluster, ROOT, startCluster } from "../harness/cluster.js";

const KEY = "sk-fuzz";
const EXAMPLES_PER_OPERATION = 10;

describe("openapi fuzz (schemathesis)", () => {
  let cluster: Cluster;
  let bin: string;

  before(async () => {
    const out = execFileSync(process.execPath, [join(ROOT, "scripts", "schemathesis.mjs")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    bin = (JSON.parse(out.trim().split("\n").at(-1)!) as { bin: string }).bin;
    // A 256-token context and a fan-out of at most 4 keep each generated request to seconds.
    cluster = await startCluster({
      apiKey: KEY,
      routerArgs: ["--max-choices-per-request", "4"],
      workerArgs: ["--context-length", "256"],
    });
  });
  after(async () => cluster?.stop());

  it("no 5xx and no answer the description does not allow", async (t) => {
    const served = (await (
      await fetch(`${cluster.routerUrl}/openapi.json`, { headers: { authorization: `Bearer ${KEY}` } })
    ).json()) as { components: { schemas: Record<string, { properties: Record<string, unknown> }> } };
    for (const name of ["ChatCompletionRequest", "CompletionRequest"])
      served.components.schemas[name]!.properties["model"] = { const: cluster.modelId };
    const dir = mkdtempSync(join(tmpdir(), "radixserve-fuzz-"));
    const spec = join(dir, "openapi.json");
    writeFileSync(spec, JSON.stringify(served));
    const r = spawnSync(
      bin,
      [
        "run",
        spec,
        "--url",
        cluster.routerUrl,
        "-H",
        `Authorization: Bearer ${KEY}`,
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        String(EXAMPLES_PER_OPERATION),
        "--seed",
        "20261207",
        "--workers",
        "1",
        "--request-timeout",
        "60",
        "--max-response-time",
        "60",
        "--no-color",
        "--report-dir",
        join(dir, "report"),
      ],
      { encoding: "utf8", cwd: dir, timeout: 600_000 },
    );
    const output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
    assert.equal(r.status, 0, output.slice(-6000));
    assert.match(output, /(\d+) generated, \1 passed/, output.slice(-2000));
    t.diagnostic(output.match(/\d+ generated, \d+ passed/)?.[0] ?? "");

    const load = await cluster.workerLoad();
    assert.equal(load.runningRequests, 0, "nothing left running on the worker");
    const res = await fetch(`${cluster.baseUrl}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: cluster.modelId, prompt: "after the fuzz", max_tokens: 2 }),
    });
    assert.equal(res.status, 200);
  });
});
