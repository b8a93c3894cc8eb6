import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const LOGGER = fileURLToPath(new URL("../src/log/logger.ts", import.meta.url));

function runWith(env: Record<string, string>, body: string): Array<Record<string, unknown>> {
  const script = `import { getLogger } from ${JSON.stringify(LOGGER)}; ${body}`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    env: { ...process.env, RADIXSERVE_DEBUG: "", RADIXSERVE_LOG_PROMPTS: "", ...env },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "", "logs go to stderr, never stdout");
  return r.stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test("logger: prompts and token ids are redacted by default, at the top level and one level down", () => {
  const lines = runWith(
    {},
    `getLogger("worker").info({ inputIds: [1,2,3], req: { prompt: "secret" }, n: 3 }, "hi");`,
  );
  assert.equal(lines.length, 1);
  assert.equal(lines[0]?.["inputIds"], "[redacted]");
  assert.deepEqual(lines[0]?.["req"], { prompt: "[redacted]" });
  assert.equal(lines[0]?.["n"], 3);
  assert.equal(lines[0]?.["component"], "worker");
});

test("logger: RADIXSERVE_DEBUG enables debug for the listed categories only", () => {
  const lines = runWith(
    { RADIXSERVE_DEBUG: "scheduler" },
    `getLogger("scheduler").debug("s"); getLogger("router").debug("r"); getLogger("router").info("i");`,
  );
  assert.deepEqual(
    lines.map((l) => l["msg"]),
    ["s", "i"],
  );
});
