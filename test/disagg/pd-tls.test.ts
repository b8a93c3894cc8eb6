/**
 * Mutual TLS for the cluster's gRPC (--tls-cert/--tls-key/--tls-ca) with real processes: a
 * prefill and a decode worker and a router, all with certificates of one test CA
 * (test/fixtures/tls, made by its make-certs.sh). A plaintext caller and a caller whose certificate
 * another CA signed are refused; with the cluster's certificate, PD (decode -> prefill over TLS)
 * matches the decode worker's local prefill token for token, and the router serves.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ClusterTls, createWorkerClient, type WorkerServiceClient } from "@radixserve/core";
import {
  defaultModel,
  generate,
  greedyRequest,
  prompt,
  ROOT,
  type RouterProc,
  startRouter,
  startWorker,
  type WorkerProc,
} from "./pd-harness.js";

const TLS_DIR = join(ROOT, "test", "fixtures", "tls");
const file = (name: string) => join(TLS_DIR, name);
const tlsArgs = ["--tls-cert", file("node.pem"), "--tls-key", file("node.key"), "--tls-ca", file("ca.pem")];
const tls = ClusterTls.load({ cert: file("node.pem"), key: file("node.key"), ca: file("ca.pem") });
/** Trusts the cluster CA but presents a certificate another CA signed. */
const rogue = ClusterTls.load({ cert: file("rogue.pem"), key: file("rogue.key"), ca: file("ca.pem") });

let p: WorkerProc;
let d: WorkerProc;
let router: RouterProc;
const clients: WorkerServiceClient[] = [];

function health(c: WorkerServiceClient): Promise<(Error & { code: number }) | null> {
  return new Promise((resolve) =>
    c.health({}, { deadline: Date.now() + 5000 }, (err) => resolve(err as (Error & { code: number }) | null)),
  );
}

before(async () => {
  const model = await defaultModel();
  const common = ["--model-path", model, "--kv-cache-blocks", "256", ...tlsArgs];
  [p, d] = await Promise.all([
    startWorker("prefill", common),
    startWorker("decode", [...common, "--kv-transport", "tcp", "--disagg-prefill-threshold", "0"]),
  ]);
  router = await startRouter([p.address, d.address], tlsArgs);
});

after(async () => {
  for (const c of clients) c.close();
  await router?.stop();
  await Promise.all([p?.stop(), d?.stop()]);
});

describe("mutual TLS between router and workers (real processes)", () => {
  test("a plaintext caller and one with another CA's certificate are refused; the cluster's certificate is served", async () => {
    for (const w of [p, d]) {
      assert.notEqual(await health(w.client), null, `${w.address}: plaintext refused`);
      const bad = createWorkerClient(w.address, {}, { tls: rogue });
      clients.push(bad);
      assert.notEqual(await health(bad), null, `${w.address}: a foreign certificate refused`);
      const good = createWorkerClient(w.address, {}, { tls });
      clients.push(good);
      assert.equal(await health(good), null, `${w.address}: the cluster's certificate served`);
    }
  });

  test("PD over TLS matches the decode worker's local prefill, and the router serves", async () => {
    const dc = createWorkerClient(d.address, {}, { tls });
    clients.push(dc);
    const prompts = [20, 90].map((n, i) => prompt(n, 70 + i));
    for (const ids of prompts) {
      const local = await generate(dc, greedyRequest(ids, 8));
      const pd = await generate(dc, greedyRequest(ids, 8, p.address));
      assert.equal(pd.error, null);
      assert.equal(local.tokens.length, 8);
      assert.deepEqual(pd.tokens, local.tokens);
    }
    const models = (await (await fetch(`${router.baseUrl}/models`)).json()) as { data: { id: string }[] };
    const res = await fetch(`${router.baseUrl}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: models.data[0]!.id, prompt: "Hi", max_tokens: 3, ignore_eos: true }),
      signal: AbortSignal.timeout(30_000),
    });
    assert.equal(res.status, 200);
  });
});
