/**
 * The router's live status page (GET /dashboard) in headless Chromium against a real cluster
 * (router, a prefill and a decode worker, redis-server, nats-server on loopback) under a light
 * load: the workers appear by role with their health and figures, the page refreshes by itself,
 * and a killed worker shows as down. Screenshots are kept in test-output/ (gitignored).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type ClusterServices,
  type RouterProc,
  startClusterServices,
  type WorkerProc,
} from "../cluster/cluster-harness.js";
import { until } from "../cluster/services.js";
import { ROOT } from "../harness/cluster.js";
import { dumpDom, screenshot } from "./chromium.js";

const OUT = join(ROOT, "test-output");

/** The data-* attributes of each worker row in the page's DOM: address -> health. */
function rows(dom: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of dom.matchAll(/<tr data-worker="([^"]+)" data-health="([^"]+)">/g)) out.set(m[1]!, m[2]!);
  return out;
}

describe("status page in headless Chromium", { timeout: 180_000 }, () => {
  let c: ClusterServices;
  let router: RouterProc;
  let prefill: WorkerProc;
  let decode: WorkerProc;
  let stopLoad = false;
  let load: Promise<void> = Promise.resolve();

  before(async () => {
    mkdirSync(OUT, { recursive: true });
    c = await startClusterServices();
    prefill = await c.startWorker(["--disagg-mode", "prefill", "--disagg-prefill-threshold", "0"]);
    decode = await c.startWorker(["--disagg-mode", "decode", "--disagg-prefill-threshold", "0"]);
    router = await c.startRouter();
    const model = ((await (await fetch(`${router.url}/v1/models`)).json()) as { data: { id: string }[] })
      .data[0]!.id;
    load = (async () => {
      for (let n = 0; !stopLoad; n++) {
        const prompt = Array.from({ length: 96 }, (_, i) => 200 + ((i < 64 ? i * 7 : n * 13 + i) % 30000));
        await fetch(`${router.url}/v1/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model, prompt, max_tokens: 16, temperature: 0, ignore_eos: true }),
        }).then(
          (r) => r.arrayBuffer(),
          () => undefined,
        );
      }
    })();
  });

  after(async () => {
    stopLoad = true;
    await load;
    await c?.stop();
  });

  it("lists the workers by role, up, with their figures, and refreshes by itself", async () => {
    const dom = await dumpDom(`${router.url}/dashboard`);
    const r = rows(dom);
    assert.equal(r.get(prefill.address), "up", dom);
    assert.equal(r.get(decode.address), "up", dom);
    assert.match(dom, /<section data-role="prefill">/);
    assert.match(dom, /<section data-role="decode">/);
    const refreshes = Number(/<body data-refreshes="(\d+)"/.exec(dom)?.[1]);
    assert.ok(refreshes >= 2, `the page refreshed ${refreshes} times in 7 s of virtual time`);
    assert.match(dom, /workers up<\/span><b>2 \/ 2<\/b>/);
    const file = join(OUT, "status-page.png");
    await screenshot(`${router.url}/dashboard`, file);
    assert.ok(existsSync(file) && statSync(file).size > 10_000, "a screenshot was written");
  });

  it("shows a killed worker as down", async () => {
    await prefill.kill();
    const down = await until(async () => {
      const s = (await (await fetch(`${router.url}/dashboard/state`)).json()) as {
        workers: { address: string; health: string }[];
      };
      return s.workers.some((w) => w.address === prefill.address && w.health === "down");
    }, 20_000);
    assert.ok(down, "the router saw the prefill worker go down");
    const dom = await dumpDom(`${router.url}/dashboard`, 3000);
    const r = rows(dom);
    assert.equal(r.get(prefill.address), "down", dom);
    assert.equal(r.get(decode.address), "up");
    assert.match(dom, /workers up<\/span><b>1 \/ 2<\/b>/);
    await screenshot(`${router.url}/dashboard`, join(OUT, "status-page-worker-down.png"), 3000);
  });
});
