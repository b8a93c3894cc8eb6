/**
 * W3C trace context in gRPC metadata (key `traceparent`), the way OpenTelemetry's gRPC
 * instrumentation carries it: the router's Generate call and the decode worker's Prefill stream
 * carry their client span, and the server side parents its spans on it.
 */
import { Metadata } from "@grpc/grpc-js";
import { formatTraceparent, parseTraceparent, type SpanContext } from "./trace-context.js";
import type { Span } from "./tracer.js";

const KEY = "traceparent";

/** Metadata carrying `span`'s context; undefined for a span that is not recording (tracing off). */
export function traceMetadata(span: Span): Metadata | undefined {
  if (!span.recording) return undefined;
  const md = new Metadata();
  md.set(KEY, formatTraceparent(span.context));
  return md;
}

/** The caller's span context from a call's metadata, or null. */
export function traceParentOf(metadata: Metadata | undefined): SpanContext | null {
  const v = metadata?.get(KEY)[0];
  return typeof v === "string" ? parseTraceparent(v) : null;
}
