// Tracing overhead per request, off and on, against the same work without any instrumentation.
//
//   node --import tsx bench/tracing/main.ts [--requests 200000]
//
// One "request" is what the router and a decode worker do for tracing on one request: the spans
// of the router (request, admission, route, generate) and of the decode worker (worker.generate,
// kv_reserve, kv_transfer, decode) with their attributes, and the traceparent metadata of the two
// gRPC calls. Off: NOOP_TRACER (the default). On: a RecordingTracer whose sink keeps the finished
// spans in an array cleared every 4096 (the exporter's queue, without the HTTP). Validates that
// "on" records 8 spans per request with the right parents before timing. Prints ns per request
// and the ratio to the uninstrumented loop; the absolute numbers are this machine's, noisy ±30%.
import { parseArgs } from "node:util";
import {
  type FinishedSpan,
  NOOP_TRACER,
  RecordingTracer,
  type Tracer,
  traceMetadata,
  traceParentOf,
} from "@radixserve/core";

const { values: args } = parseArgs({ options: { requests: { type: "string", default: "200000" } } });
const N = Number(args.requests);

let sinkSpans: FinishedSpan[] = [];
const sink = (s: FinishedSpan) => {
  sinkSpans.push(s);
  if (sinkSpans.length >= 4096) sinkSpans = [];
};

let work = 0;
/** Stand-in for the request's own work, the same in every variant. */
function baseline(i: number): void {
  work = (work + i * 2654435761) >>> 0;
}

function request(tracer: Tracer, i: number): void {
  const root = tracer.startSpan("POST /v1/completions", {
    kind: "server",
    attributes: { "http.request.method": "POST", "http.route": "/v1/completions" },
  });
  tracer.startSpan("admission", { parent: root }).end();
  const route = tracer.startSpan("route", { parent: root, attributes: { "radixserve.attempt": 0 } });
  route.setAttribute("radixserve.worker", "10.0.0.1:50051").end();
  const gen = tracer.startSpan("generate", { parent: root, kind: "client" });
  const md = traceMetadata(gen);
  const worker = tracer.startSpan("worker.generate", {
    parent: tracer.enabled ? traceParentOf(md) : null,
    kind: "server",
  });
  tracer.startSpan("kv_reserve", { parent: worker }).end();
  const kv = tracer.startSpan("kv_transfer", { parent: worker, kind: "client" });
  traceMetadata(kv);
  kv.setAttribute("radixserve.kv_bytes", 1 << 20).end();
  tracer.startSpan("decode", { parent: worker }).end();
  worker.end();
  gen.end();
  root.setAttribute("http.response.status_code", 200).end();
  baseline(i);
}

function time(label: string, f: (i: number) => void): number {
  for (let i = 0; i < 10_000; i++) f(i); // warm up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) f(i);
  const ns = Number(process.hrtime.bigint() - t0) / N;
  process.stdout.write(`${label.padEnd(34)} ${ns.toFixed(1).padStart(9)} ns/request\n`);
  return ns;
}

// Validate: 8 spans, one trace, parents as the services link them.
const check: FinishedSpan[] = [];
request(new RecordingTracer((s) => check.push(s)), 0);
const byName = new Map(check.map((s) => [s.name, s]));
if (check.length !== 8 || new Set(check.map((s) => s.traceId)).size !== 1)
  throw new Error(`expected 8 spans of one trace, got ${check.length}`);
if (byName.get("worker.generate")?.parentSpanId !== byName.get("generate")?.spanId)
  throw new Error("worker.generate is not under generate");

const base = time("no instrumentation", baseline);
const off = time("tracing off (NOOP_TRACER)", (i) => request(NOOP_TRACER, i));
const on = time("tracing on (8 spans, no export)", (i) => request(new RecordingTracer(sink), i));
process.stdout.write(
  `off - baseline: ${(off - base).toFixed(1)} ns/request; on / off: ${(on / off).toFixed(1)}x; ` +
    `on - off: ${((on - off) / 1000).toFixed(2)} us/request (${N} requests, checksum ${work})\n`,
);
