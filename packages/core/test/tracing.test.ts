import assert from "node:assert/strict";
import { test } from "node:test";
import { traceMetadata, traceParentOf } from "../src/tracing/grpc-trace.js";
import { otlpJson } from "../src/tracing/otlp-exporter.js";
import { formatTraceparent, parseTraceparent } from "../src/tracing/trace-context.js";
import { type FinishedSpan, NOOP_TRACER, RecordingTracer } from "../src/tracing/tracer.js";

test("tracing: W3C traceparent parses and formats; malformed or all-zero ids start a new trace", () => {
  const v = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const ctx = parseTraceparent(v);
  assert.deepEqual(ctx, {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    flags: 1,
  });
  assert.equal(formatTraceparent(ctx!), v);
  assert.equal(parseTraceparent(v.toUpperCase())?.traceId, ctx!.traceId);
  for (const bad of [
    undefined,
    "",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
  ])
    assert.equal(parseTraceparent(bad), null, String(bad));
});

test("tracing: off costs nothing (one shared inert span, no metadata)", () => {
  const a = NOOP_TRACER.startSpan("x");
  const b = NOOP_TRACER.startSpan("y", { parent: a, attributes: { k: 1 } });
  assert.equal(a, b, "the same object every time");
  assert.equal(a.recording, false);
  assert.equal(a.setAttribute("k", "v"), a);
  a.end();
  assert.equal(traceMetadata(a), undefined);
});

test("tracing: spans keep their parents across a traceparent hop and export as OTLP JSON", () => {
  const done: FinishedSpan[] = [];
  const tracer = new RecordingTracer((s) => done.push(s));
  const root = tracer.startSpan("root", { kind: "server", attributes: { "http.route": "/v1/completions" } });
  const client = tracer.startSpan("generate", { parent: root, kind: "client" });
  // The other process: the context arrives in gRPC metadata.
  const remote = traceParentOf(traceMetadata(client));
  assert.deepEqual(remote, client.context);
  const server = tracer.startSpan("worker.generate", { parent: remote, kind: "server" });
  server.setError("boom").end();
  client.end();
  client.end(); // a second end() is ignored
  root.end();
  assert.equal(done.length, 3);
  const [s, c, r] = done as [FinishedSpan, FinishedSpan, FinishedSpan];
  assert.equal(new Set(done.map((x) => x.traceId)).size, 1);
  assert.equal(r.parentSpanId, null);
  assert.equal(c.parentSpanId, r.spanId);
  assert.equal(s.parentSpanId, c.spanId);
  assert.ok(r.endMs >= r.startMs && r.startMs <= c.startMs);
  const body = otlpJson(done, { "service.name": "t" }) as {
    resourceSpans: {
      resource: { attributes: unknown[] };
      scopeSpans: { spans: Record<string, unknown>[] }[];
    }[];
  };
  const spans = body.resourceSpans[0]!.scopeSpans[0]!.spans;
  assert.deepEqual(body.resourceSpans[0]!.resource.attributes, [
    { key: "service.name", value: { stringValue: "t" } },
  ]);
  assert.equal(spans[0]!["kind"], 2);
  assert.deepEqual(spans[0]!["status"], { code: 2, message: "boom" });
  assert.equal(spans[0]!["parentSpanId"], c.spanId);
  assert.equal(spans[2]!["parentSpanId"], undefined);
  assert.match(String(spans[2]!["startTimeUnixNano"]), /^\d{19}$/);
  assert.deepEqual((spans[2]!["attributes"] as unknown[])[0], {
    key: "http.route",
    value: { stringValue: "/v1/completions" },
  });
});
