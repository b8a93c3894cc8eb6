/**
 * The process-wide tracer: NOOP_TRACER until setupTracing() is given an OTLP endpoint
 * (`--otlp-traces-endpoint` on the router and the workers).
 */
import { OtlpExporter } from "./otlp-exporter.js";
import type { AttributeValue } from "./tracer.js";
import { NOOP_TRACER, RecordingTracer, type Tracer } from "./tracer.js";

let tracer: Tracer = NOOP_TRACER;
let exporter: OtlpExporter | null = null;

export interface TracingOptions {
  /** OTLP/HTTP traces endpoint, e.g. http://otel-collector:4318/v1/traces; empty or undefined = off. */
  endpoint?: string | undefined;
  /** service.name: radixserve-router, radixserve-prefill, radixserve-decode, radixserve-unified. */
  serviceName: string;
  /** More resource attributes (service.instance.id, model_name, ...). */
  resource?: Record<string, AttributeValue>;
  intervalMs?: number;
}

/** Checks an --otlp-traces-endpoint value: an http(s) URL. Returns the problem, or null. */
export function otlpEndpointProblem(value: string): string | null {
  try {
    const u = new URL(value);
    if (u.protocol !== "http:" && u.protocol !== "https:")
      return `must be an http:// or https:// URL, got ${u.protocol}`;
    return null;
  } catch {
    return `'${value}' is not a URL (e.g. http://otel-collector:4318/v1/traces)`;
  }
}

export function setupTracing(opts: TracingOptions): Tracer {
  if (!opts.endpoint) return tracer;
  const problem = otlpEndpointProblem(opts.endpoint);
  if (problem) throw new Error(`--otlp-traces-endpoint ${problem}`);
  exporter = new OtlpExporter({
    endpoint: opts.endpoint,
    resource: { "service.name": opts.serviceName, ...opts.resource },
    ...(opts.intervalMs !== undefined ? { intervalMs: opts.intervalMs } : {}),
  });
  const e = exporter;
  tracer = new RecordingTracer((s) => e.add(s));
  return tracer;
}

/** The process's tracer (NOOP_TRACER when tracing is off). */
export function getTracer(): Tracer {
  return tracer;
}

/** Sends the spans still queued (call on shutdown) and turns tracing off. */
export async function shutdownTracing(): Promise<void> {
  const e = exporter;
  exporter = null;
  tracer = NOOP_TRACER;
  await e?.shutdown();
}
