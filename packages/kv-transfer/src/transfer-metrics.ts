import { KV_TRANSFER_BUCKETS, KV_TRANSFER_METRIC_NAMES as N } from "@radixserve/core";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Why a transfer failed: every value of the `cause` label of the failed-transfers counter. */
export const KV_TRANSFER_FAILURES = Object.freeze([
  "peer_unavailable",
  "peer_error",
  "reservation_timeout",
  "transfer_timeout",
  "checksum",
  "import",
  "engine",
  "cancelled",
  "protocol",
] as const);

export type KvTransferFailure = (typeof KV_TRANSFER_FAILURES)[number];

/** The media a transfer's bytes can ride (`transport` label); `auto` resolves to one of them. */
export const KV_TRANSFER_MEDIA = Object.freeze(["grpc", "tcp", "shm"] as const);

export interface KvQueueSource {
  /** Requests waiting for blocks to reserve (decode) or to be admitted (prefill). */
  reservationQueue: () => number;
  /** Transfers in progress. */
  transfersInFlight: () => number;
  /** Decode: blocks of failed direct-shm transfers held until their writer stops (see shm-direct.ts). */
  quarantinedBlocks?: () => number;
}

/**
 * KV-transfer metrics of one worker, registered in its serving registry (so they carry its
 * `role` label). Bytes/blocks count what this side sent (prefill) or imported (decode).
 */
export class KvTransferMetrics {
  readonly bytes: Counter<"transport">;
  readonly blocks: Counter<"transport">;
  readonly seconds: Histogram<"transport">;
  readonly throughput: Histogram<"transport">;
  readonly failures: Counter<"cause">;
  readonly localPrefills: Counter;
  private moved = 0;

  constructor(registry: Registry, queues: KvQueueSource) {
    const registers = [registry];
    this.bytes = new Counter({
      name: N.bytesTotal,
      help: "KV bytes moved",
      labelNames: ["transport"],
      registers,
    });
    this.blocks = new Counter({
      name: N.blocksTotal,
      help: "KV blocks moved",
      labelNames: ["transport"],
      registers,
    });
    this.seconds = new Histogram({
      name: N.latencySeconds,
      help: "Transfer time: prefill worker, first chunk to final ack; decode worker, start message to adoption",
      labelNames: ["transport"],
      buckets: [...KV_TRANSFER_BUCKETS.latency],
      registers,
    });
    this.throughput = new Histogram({
      name: N.throughputBytesPerSecond,
      help: "Per-transfer throughput in bytes per second (bytes / transfer time)",
      labelNames: ["transport"],
      buckets: [...KV_TRANSFER_BUCKETS.throughput],
      registers,
    });
    this.failures = new Counter({
      name: N.failuresTotal,
      help: "Failed KV transfers by cause",
      labelNames: ["cause"],
      registers,
    });
    // Every series exists from the start, so the first failure is a step rate() can see.
    for (const cause of KV_TRANSFER_FAILURES) this.failures.inc({ cause }, 0);
    for (const transport of KV_TRANSFER_MEDIA) {
      this.bytes.inc({ transport }, 0);
      this.blocks.inc({ transport }, 0);
      this.seconds.zero({ transport });
      this.throughput.zero({ transport });
    }
    this.localPrefills = new Counter({
      name: N.localPrefillsTotal,
      help: "Requests a decode worker prefilled itself (uncached part under --disagg-prefill-threshold)",
      registers,
    });
    new Gauge({
      name: N.reservationQueue,
      help: "Requests waiting for KV blocks to reserve",
      registers,
      collect() {
        this.set(queues.reservationQueue());
      },
    });
    new Gauge({
      name: N.transfersInFlight,
      help: "KV transfers in progress",
      registers,
      collect() {
        this.set(queues.transfersInFlight());
      },
    });
    const quarantined = queues.quarantinedBlocks;
    if (quarantined)
      new Gauge({
        name: N.quarantinedBlocks,
        help: "KV blocks of failed direct shm transfers held back while a prefill worker is stopped mid-write into them",
        registers,
        collect() {
          this.set(quarantined());
        },
      });
  }

  /** KV bytes of the completed transfers since start (read for GetLoad's transfer rate). */
  get bytesMoved(): number {
    return this.moved;
  }

  /** Records one completed transfer. */
  recordTransfer(transport: string, bytes: number, blocks: number, seconds: number): void {
    this.moved += bytes;
    this.bytes.inc({ transport }, bytes);
    this.blocks.inc({ transport }, blocks);
    this.seconds.observe({ transport }, seconds);
    if (seconds > 0 && bytes > 0) this.throughput.observe({ transport }, bytes / seconds);
  }
}
