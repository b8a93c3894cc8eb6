/**
 * Spans for one process, OpenTelemetry's data model (trace id, span id, parent, kind, attributes,
 * status, start/end times), exported over OTLP by ./otlp-exporter.ts. Off by default: the tracer
 * is then NOOP_TRACER, whose startSpan returns one shared inert span, so instrumented code pays a
 * few function calls per request and nothing else: no ids, no clock reads, no span objects, no export.
 *
 * Parents are passed explicitly (a Span or a SpanContext from a traceparent), never through an
 * ambient context, so a span's place in the trace is visible where it is created.
 */
import { newSpanId, newTraceId, type SpanContext } from "./trace-context.js";

export type SpanKind = "internal" | "server" | "client";
export type AttributeValue = string | number | boolean;

export interface Span {
  /** False for the no-op span: callers may skip work that only feeds the span. */
  readonly recording: boolean;
  /** This span's identity (the no-op span's is all zeros). */
  readonly context: SpanContext;
  setAttribute(key: string, value: AttributeValue): Span;
  /** Marks the span failed (status ERROR) with a message. */
  setError(message: string): Span;
  /** Ends the span (later calls are ignored) and hands it to the exporter. */
  end(): void;
}

export interface SpanOptions {
  parent?: Span | SpanContext | null;
  kind?: SpanKind;
  attributes?: Record<string, AttributeValue>;
}

/** A finished span as the exporter receives it. */
export interface FinishedSpan {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  /** Unix epoch, milliseconds with a fraction (sub-microsecond resolution); ns only at export. */
  startMs: number;
  endMs: number;
  attributes: Record<string, AttributeValue>;
  error: string | null;
}

export interface Tracer {
  readonly enabled: boolean;
  startSpan(name: string, opts?: SpanOptions): Span;
}

const ZERO: SpanContext = Object.freeze({ traceId: "0".repeat(32), spanId: "0".repeat(16), flags: 0 });

const NOOP_SPAN: Span = Object.freeze({
  recording: false,
  context: ZERO,
  setAttribute: () => NOOP_SPAN,
  setError: () => NOOP_SPAN,
  end: () => {},
});

export const NOOP_TRACER: Tracer = Object.freeze({
  enabled: false,
  startSpan: () => NOOP_SPAN,
});

function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

function contextOf(parent: Span | SpanContext | null | undefined): SpanContext | null {
  if (!parent) return null;
  const ctx = "context" in parent ? parent.context : parent;
  return ctx === ZERO ? null : ctx;
}

class RecordingSpan implements Span {
  readonly recording = true;
  readonly context: SpanContext;
  private readonly startMs = nowMs();
  private readonly attributes: Record<string, AttributeValue>;
  private error: string | null = null;
  private ended = false;

  constructor(
    private readonly name: string,
    private readonly kind: SpanKind,
    private readonly parentSpanId: string | null,
    traceId: string,
    attributes: Record<string, AttributeValue> | undefined,
    private readonly sink: (s: FinishedSpan) => void,
  ) {
    this.context = { traceId, spanId: newSpanId(), flags: 1 };
    this.attributes = { ...attributes };
  }

  setAttribute(key: string, value: AttributeValue): Span {
    this.attributes[key] = value;
    return this;
  }

  setError(message: string): Span {
    this.error = message;
    return this;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.sink({
      name: this.name,
      kind: this.kind,
      traceId: this.context.traceId,
      spanId: this.context.spanId,
      parentSpanId: this.parentSpanId,
      startMs: this.startMs,
      endMs: nowMs(),
      attributes: this.attributes,
      error: this.error,
    });
  }
}

/** A tracer that records every span and passes it to `sink` when it ends. */
export class RecordingTracer implements Tracer {
  readonly enabled = true;

  constructor(private readonly sink: (s: FinishedSpan) => void) {}

  startSpan(name: string, opts: SpanOptions = {}): Span {
    const parent = contextOf(opts.parent);
    return new RecordingSpan(
      name,
      opts.kind ?? "internal",
      parent?.spanId ?? null,
      parent?.traceId ?? newTraceId(),
      opts.attributes,
      this.sink,
    );
  }
}
