/**
 * Exports finished spans to an OpenTelemetry collector (or Jaeger, Tempo, ...) over OTLP/HTTP
 * with the JSON encoding: POST <endpoint> (e.g. http://otel-collector:4318/v1/traces) with an
 * ExportTraceServiceRequest. Spans are batched: sent every `intervalMs` or at `batchSize`, queued
 * up to `maxQueue` (beyond it the oldest are dropped and counted); a failed export is logged
 * (at most once a minute) and its spans are dropped, never retried into an unbounded backlog.
 */
import { getLogger } from "../log/index.js";
import type { AttributeValue, FinishedSpan, SpanKind } from "./tracer.js";

const log = getLogger("tracing");

export interface OtlpExporterOptions {
  endpoint: string;
  /** Resource attributes (service.name, service.instance.id, ...). */
  resource: Record<string, AttributeValue>;
  intervalMs?: number;
  batchSize?: number;
  maxQueue?: number;
}

const KIND: Record<SpanKind, number> = { internal: 1, server: 2, client: 3 };

function attr(key: string, v: AttributeValue): { key: string; value: Record<string, unknown> } {
  if (typeof v === "boolean") return { key, value: { boolValue: v } };
  if (typeof v === "number")
    return { key, value: Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v } };
  return { key, value: { stringValue: v } };
}

/** Epoch milliseconds (with a fraction) as OTLP's decimal nanosecond string. */
function unixNano(ms: number): string {
  const whole = Math.floor(ms);
  const ns = Math.round((ms - whole) * 1e6);
  return (BigInt(whole) * 1_000_000n + BigInt(ns)).toString();
}

const attrs = (a: Record<string, AttributeValue>) => Object.entries(a).map(([k, v]) => attr(k, v));

/** The OTLP JSON body for `spans` (ids as hex strings, times as decimal nanosecond strings). */
export function otlpJson(spans: readonly FinishedSpan[], resource: Record<string, AttributeValue>): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: attrs(resource) },
        scopeSpans: [
          {
            scope: { name: "radixserve" },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name,
              kind: KIND[s.kind],
              startTimeUnixNano: unixNano(s.startMs),
              endTimeUnixNano: unixNano(s.endMs),
              attributes: attrs(s.attributes),
              status: s.error === null ? { code: 1 } : { code: 2, message: s.error },
            })),
          },
        ],
      },
    ],
  };
}

export class OtlpExporter {
  private queue: FinishedSpan[] = [];
  private dropped = 0;
  private lastWarn = 0;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private readonly batchSize: number;
  private readonly maxQueue: number;

  constructor(private readonly opts: OtlpExporterOptions) {
    this.batchSize = opts.batchSize ?? 512;
    this.maxQueue = opts.maxQueue ?? 8192;
    this.timer = setInterval(() => void this.flush(), opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Queues one finished span (the tracer's sink). */
  add(span: FinishedSpan): void {
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(span);
    if (this.queue.length >= this.batchSize) void this.flush();
  }

  /** Sends what is queued; resolves when every export started so far has settled. */
  flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.batchSize);
      this.inFlight = this.inFlight.then(() => this.send(batch));
    }
    return this.inFlight;
  }

  /** Flushes and stops the timer. */
  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async send(batch: FinishedSpan[]): Promise<void> {
    try {
      const res = await fetch(this.opts.endpoint, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(otlpJson(batch, this.opts.resource)),
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
    } catch (err) {
      this.dropped += batch.length;
      if (Date.now() - this.lastWarn > 60_000) {
        this.lastWarn = Date.now();
        log.warn(
          { endpoint: this.opts.endpoint, dropped: this.dropped, err: (err as Error).message },
          "OTLP trace export failed; spans dropped",
        );
      }
    }
  }
}
