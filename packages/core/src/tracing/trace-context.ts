/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` value that carries a
 * span's identity across processes (HTTP header from clients, gRPC metadata between router and
 * workers): `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`.
 */
import { randomFillSync } from "node:crypto";

export interface SpanContext {
  /** 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex digits, not all zero. */
  readonly spanId: string;
  /** Bit 0: sampled. */
  readonly flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Parses a traceparent value; null when it is absent or malformed (then a new trace starts). */
export function parseTraceparent(value: string | undefined | null): SpanContext | null {
  if (!value) return null;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m) return null;
  const [, version, traceId, spanId, flags] = m as unknown as [string, string, string, string, string];
  // Version ff is invalid; all-zero ids are invalid.
  if (version === "ff" || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

export function formatTraceparent(ctx: SpanContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.flags.toString(16).padStart(2, "0")}`;
}

// Ids come from a pool of random bytes refilled 4 KiB at a time: one randomBytes() call per id
// cost ~10x more (a system call each).
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (used + bytes > pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    const hex = pool.toString("hex", used, used + bytes);
    used += bytes;
    if (hex !== "0".repeat(bytes * 2)) return hex; // all-zero ids are invalid
  }
}

export function newTraceId(): string {
  return randomHex(16);
}

export function newSpanId(): string {
  return randomHex(8);
}
