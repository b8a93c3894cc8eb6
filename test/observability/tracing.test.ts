/**
 * OpenTelemetry tracing across processes: a real PD cluster (router, a prefill and a decode
 * worker, redis-server, nats-server on loopback) started with --otlp-traces-endpoint pointing at an
 * OTLP/HTTP receiver this test runs. One completion carrying a client `traceparent` must come back
 * as one trace: the router's, the decode worker's and the prefill worker's spans share the
 * client's trace id, and every parent link is the one the request took (router generate ->
 * decode worker -> kv_transfer -> prefill worker).
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { type ClusterServices, type RouterProc, startClusterServices } from "../cluster/cluster-harness.js";
import { until } from "../cluster/services.js";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  status: { code: number; message?: string };
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  service: string;
}

/** A minimal OTLP/HTTP JSON receiver: POST /v1/traces, spans flattened with their service.name. */
async function startReceiver(): Promise<{
  url: string;
  spans: OtlpSpan[];
  posts: number;
  close(): Promise<void>;
}> {
  const state = { spans: [] as OtlpSpan[], posts: 0 };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      if (
        req.method !== "POST" ||
        req.url !== "/v1/traces" ||
        req.headers["content-type"] !== "application/json"
      ) {
        res.writeHead(400).end();
        return;
      }
      state.posts++;
      const msg = JSON.parse(body) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: { stringValue?: string } }[] };
          scopeSpans: { spans: Omit<OtlpSpan, "service">[] }[];
        }[];
      };
      for (const rs of msg.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue ?? "";
        for (const ss of rs.scopeSpans) for (const s of ss.spans) state.spans.push({ ...s, service });
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans: state.spans,
    get posts() {
      return state.posts;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN = "b7ad6b7169203331";

describe("tracing: one trace across router, decode and prefill workers (OTLP)", { timeout: 180_000 }, () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let c: ClusterServices;
  let router: RouterProc;
  let trace: OtlpSpan[] = [];

  before(async () => {
    receiver = await startReceiver();
    c = await startClusterServices();
    const otlp = ["--otlp-traces-endpoint", receiver.url];
    const pd = ["--disagg-prefill-threshold", "0", ...otlp];
    await c.startWorker(["--disagg-mode", "prefill", ...pd]);
    await c.startWorker(["--disagg-mode", "decode", ...pd]);
    router = await c.startRouter(otlp);
    const model = ((await (await fetch(`${router.url}/v1/models`)).json()) as { data: { id: string }[] })
      .data[0]!.id;
    const res = await fetch(`${router.url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
      body: JSON.stringify({ model, prompt: Array.from({ length: 80 }, (_, i) => 300 + i), max_tokens: 4 }),
    });
    assert.equal(res.status, 200, await res.text());
    // Spans leave each process in batches every second: wait for every span the request makes.
    const expected = [
      "radixserve-router POST /v1/completions",
      "radixserve-router admission",
      "radixserve-router route",
      "radixserve-router generate",
      "radixserve-decode worker.generate",
      "radixserve-decode kv_reserve",
      "radixserve-decode kv_transfer",
      "radixserve-decode decode",
      "radixserve-prefill prefill.session",
      "radixserve-prefill queue",
      "radixserve-prefill prefill",
      "radixserve-prefill kv_send",
    ];
    const seen = () =>
      new Set(receiver.spans.filter((s) => s.traceId === CLIENT_TRACE).map((s) => `${s.service} ${s.name}`));
    const complete = await until(() => expected.every((e) => seen().has(e)), 20_000);
    trace = receiver.spans.filter((s) => s.traceId === CLIENT_TRACE);
    assert.ok(complete, `missing: ${expected.filter((e) => !seen().has(e)).join(", ")}`);
  });

  after(async () => {
    await c?.stop();
    await receiver?.close();
  });

  const one = (service: string, name: string): OtlpSpan => {
    const found = trace.filter((s) => s.service === service && s.name === name);
    assert.equal(found.length, 1, `${service} ${name}: ${found.length} spans`);
    return found[0]!;
  };

  it("every process's spans share the client's trace id", () => {
    const services = new Set(trace.map((s) => s.service));
    assert.deepEqual([...services].sort(), ["radixserve-decode", "radixserve-prefill", "radixserve-router"]);
    assert.equal(trace.length, 12, trace.map((s) => `${s.service}:${s.name}`).join(", "));
  });

  it("parent links follow the request: router -> decode worker -> prefill worker", () => {
    const root = one("radixserve-router", "POST /v1/completions");
    assert.equal(root.parentSpanId, CLIENT_SPAN, "the router joins the client's trace");
    assert.equal(root.kind, 2);
    for (const name of ["admission", "route", "generate"])
      assert.equal(one("radixserve-router", name).parentSpanId, root.spanId, name);
    const gen = one("radixserve-router", "generate");
    assert.equal(gen.kind, 3);
    const worker = one("radixserve-decode", "worker.generate");
    assert.equal(worker.parentSpanId, gen.spanId, "decode worker under the router's generate call");
    assert.equal(worker.kind, 2);
    for (const name of ["kv_reserve", "kv_transfer", "decode"])
      assert.equal(one("radixserve-decode", name).parentSpanId, worker.spanId, name);
    const transfer = one("radixserve-decode", "kv_transfer");
    assert.equal(transfer.kind, 3);
    const session = one("radixserve-prefill", "prefill.session");
    assert.equal(session.parentSpanId, transfer.spanId, "prefill worker under the decode worker's transfer");
    for (const name of ["queue", "prefill", "kv_send"])
      assert.equal(one("radixserve-prefill", name).parentSpanId, session.spanId, name);
  });

  it("spans succeed, nest in time and every parent is in the trace", () => {
    const ids = new Set(trace.map((s) => s.spanId));
    for (const s of trace) {
      assert.equal(s.status.code, 1, `${s.service} ${s.name}: ${s.status.message}`);
      assert.ok(BigInt(s.endTimeUnixNano) >= BigInt(s.startTimeUnixNano), s.name);
      if (s.parentSpanId !== CLIENT_SPAN)
        assert.ok(ids.has(s.parentSpanId ?? ""), `${s.name}'s parent is missing`);
    }
    const at = (s: OtlpSpan) => BigInt(s.startTimeUnixNano);
    const queue = one("radixserve-prefill", "queue");
    const prefill = one("radixserve-prefill", "prefill");
    assert.ok(at(prefill) >= at(queue), "prefill after its queue");
    assert.ok(at(one("radixserve-decode", "decode")) >= at(one("radixserve-decode", "kv_transfer")));
  });
});
