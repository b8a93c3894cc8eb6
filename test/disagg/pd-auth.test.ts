/**
 * Cluster-internal authentication with real processes: prefill, decode (tcp KV transport on a fixed
 * --kv-port) and unified workers given the cluster secret in the environment, a router given it
 * as a file. Without the secret, or with another one, every gRPC service refuses the call
 * (UNAUTHENTICATED) and the KV port drops the connection; with it, PD over tcp is token-identical
 * to unified and the router serves.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  CLUSTER_SECRET_ENV,
  ClusterSecret,
  createPrefillClient,
  createWorkerClient,
  type PrefillServerMessage__Output,
  type WorkerServiceClient,
} from "@radixserve/core";
import { KvTcpConnection } from "@radixserve/engine-native";
import {
  defaultModel,
  generate,
  greedyRequest,
  metricSum,
  prompt,
  type RouterProc,
  startRouter,
  startWorker,
  type WorkerProc,
} from "./pd-harness.js";

/** gRPC's UNAUTHENTICATED status code. */
const UNAUTHENTICATED = 16;
type ServiceError = Error & { code: number; details: string };
const SECRET = randomBytes(24).toString("hex");
const secret = ClusterSecret.fromBytes(SECRET, "test");
let dir: string;
let u: WorkerProc;
let p: WorkerProc;
let d: WorkerProc;
let router: RouterProc;
let kvPort: number;
const clients: { close(): void }[] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function client(address: string, s: ClusterSecret | null): WorkerServiceClient {
  const c = createWorkerClient(address, {}, { secret: s });
  clients.push(c);
  return c;
}

function health(c: WorkerServiceClient): Promise<ServiceError | null> {
  return new Promise((resolve) => c.health({}, (err) => resolve(err)));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "radixserve-auth-"));
  const file = join(dir, "cluster-secret");
  writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
  const model = await defaultModel();
  const common = ["--model-path", model, "--kv-cache-blocks", "256"];
  const env = { [CLUSTER_SECRET_ENV]: SECRET };
  kvPort = await freePort();
  [u, p, d] = await Promise.all([
    startWorker("unified", common, env),
    startWorker("prefill", common, env),
    startWorker(
      "decode",
      [...common, "--kv-transport", "tcp", "--kv-port", String(kvPort), "--disagg-prefill-threshold", "0"],
      env,
    ),
  ]);
  router = await startRouter([p.address, d.address], ["--cluster-secret-file", file]);
});

after(async () => {
  for (const c of clients) c.close();
  await router?.stop();
  await Promise.all([u?.stop(), p?.stop(), d?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("cluster secret (real workers and router)", () => {
  test("gRPC without the secret or with another one is refused by every service: UNAUTHENTICATED", async () => {
    const other = ClusterSecret.fromBytes(randomBytes(24).toString("hex"), "other");
    for (const w of [u, p, d]) {
      for (const c of [w.client, client(w.address, other)]) {
        const err = await health(c);
        assert.equal(err?.code, UNAUTHENTICATED, `${w.address} Health`);
        assert.match(err!.details, /cluster credentials/);
      }
      assert.equal(await health(client(w.address, secret)), null, `${w.address} Health with the secret`);
    }
    // Generate: refused before the request reaches the scheduler.
    const r = await generate(d.client, greedyRequest(prompt(20, 1), 4, p.address));
    assert.deepEqual([r.tokens.length, r.error?.code], [0, `grpc_${UNAUTHENTICATED}`]);
    // PrefillService (decode -> prefill) without the secret.
    const pc = createPrefillClient(p.address);
    clients.push(pc);
    const code = await new Promise<number | undefined>((resolve) => {
      const call = pc.prefill();
      call.on("data", (_m: PrefillServerMessage__Output) => {});
      call.on("error", (e: ServiceError) => resolve(e.code));
      call.on("end", () => resolve(undefined));
      call.write({ start: { request: greedyRequest(prompt(20, 2), 1), numBlocks: 2 } });
    });
    assert.equal(code, UNAUTHENTICATED);
  });

  test("the KV port (--kv-port) drops a connection that fails the handshake", async () => {
    // A plain socket: the listener opens with its nonce; garbage in reply closes the connection.
    const sock = tcpConnect(kvPort, "127.0.0.1");
    sock.on("error", () => {});
    const first = await new Promise<Buffer>((resolve) => sock.once("data", resolve));
    assert.equal(first.length, 16, "a 16-byte nonce");
    sock.write(randomBytes(64));
    await new Promise<void>((resolve) => sock.once("close", () => resolve()));
    // The native sender with another key is refused too.
    await assert.rejects(
      KvTcpConnection.connect("127.0.0.1", kvPort, randomBytes(16).toString("hex"), 2000, randomBytes(32)),
      /refused the cluster secret/,
    );
  });

  test("with the secret: PD over tcp is token-identical to unified, and the router serves", async () => {
    const prompts = [17, 70, 200].map((n, i) => prompt(n, 50 + i));
    const uc = client(u.address, secret);
    const dc = client(d.address, secret);
    const unified = await Promise.all(prompts.map((ids) => generate(uc, greedyRequest(ids, 8))));
    const tcpBefore = metricSum(await d.metrics(), "radixserve_kv_transfer_bytes_total", {
      transport: "tcp",
    });
    const pd = await Promise.all(prompts.map((ids) => generate(dc, greedyRequest(ids, 8, p.address))));
    for (const [i, r] of pd.entries()) {
      assert.equal(r.error, null);
      assert.deepEqual(r.tokens, unified[i]!.tokens, `prompt ${i}`);
    }
    const m = await d.metrics();
    assert.ok(
      metricSum(m, "radixserve_kv_transfer_bytes_total", { transport: "tcp" }) > tcpBefore,
      "KV went by tcp",
    );
    assert.equal(metricSum(m, "radixserve_kv_transfer_failures_total"), 0);

    const models = (await (await fetch(`${router.baseUrl}/models`)).json()) as { data: { id: string }[] };
    const res = await fetch(`${router.baseUrl}/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: models.data[0]!.id,
        prompt: "Hello there",
        max_tokens: 4,
        ignore_eos: true,
      }),
      signal: AbortSignal.timeout(30_000),
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { usage: { completion_tokens: number } };
    assert.equal(body.usage.completion_tokens, 4);
  });
});
