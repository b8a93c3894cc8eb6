/**
 * NATS subjects of RadixServe's cluster events (one place, so worker and router cannot disagree).
 * `prefix` (default "radixserve") lets two clusters share one NATS server.
 *
 *   <prefix>.kv.events                KvEventBatch from every worker (JSON, see kv-event-types.ts)
 *   <prefix>.load                     LoadReport from every worker, every few hundred ms
 *   <prefix>.kv.snapshot.<token>      request/reply: a worker's whole cache (KvSnapshot)
 *
 * A worker id is its gRPC address ("10.0.0.7:50051"): dots would split a NATS subject, so the
 * snapshot subject carries it base64url-encoded (a single valid token, and reversible).
 */
export const DEFAULT_SUBJECT_PREFIX = "radixserve";

export interface EventSubjects {
  readonly kvEvents: string;
  readonly load: string;
  snapshot(workerId: string): string;
}

export function eventSubjects(prefix = DEFAULT_SUBJECT_PREFIX): EventSubjects {
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix))
    throw new Error(`NATS subject prefix '${prefix}' must be dot-separated [A-Za-z0-9_-] tokens`);
  return Object.freeze({
    kvEvents: `${prefix}.kv.events`,
    load: `${prefix}.load`,
    snapshot: (workerId: string) => `${prefix}.kv.snapshot.${Buffer.from(workerId).toString("base64url")}`,
  });
}
