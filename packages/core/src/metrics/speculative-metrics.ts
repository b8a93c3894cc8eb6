import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** Speculative decoding (workers that decode with --speculative-algorithm); same prefix and labels. */
export const SPECULATIVE_METRIC_NAMES = Object.freeze({
  draftTokensTotal: "radixserve_spec_draft_tokens_total",
  acceptedTokensTotal: "radixserve_spec_accepted_tokens_total",
  acceptedLength: "radixserve_spec_accepted_length",
  acceptanceRate: "radixserve_spec_acceptance_rate",
});

/** Accepted drafts per verification: 0 .. 16 (the most --speculative-num-draft-tokens allows). */
const ACCEPTED_LENGTH_BUCKETS = [0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16];

/**
 * Drafted tokens proposed and accepted, the accepted length of each verification (one request in
 * one step), and the acceptance rate since start (accepted / proposed; 0 before any draft).
 */
export class SpeculativeMetrics {
  private readonly proposed: Counter;
  private readonly accepted: Counter;
  private readonly lengths: Histogram;
  private totals = { proposed: 0, accepted: 0 };

  constructor(registry: Registry) {
    const registers = [registry];
    this.proposed = new Counter({
      name: SPECULATIVE_METRIC_NAMES.draftTokensTotal,
      help: "Drafted tokens sent to verification",
      registers,
    });
    this.accepted = new Counter({
      name: SPECULATIVE_METRIC_NAMES.acceptedTokensTotal,
      help: "Drafted tokens the target model accepted",
      registers,
    });
    this.lengths = new Histogram({
      name: SPECULATIVE_METRIC_NAMES.acceptedLength,
      help: "Drafted tokens accepted per verification (one request in one step)",
      buckets: ACCEPTED_LENGTH_BUCKETS,
      registers,
    });
    const totals = () => this.totals;
    new Gauge({
      name: SPECULATIVE_METRIC_NAMES.acceptanceRate,
      help: "Accepted / proposed drafted tokens since start (0..1)",
      registers,
      collect() {
        const t = totals();
        this.set(t.proposed > 0 ? t.accepted / t.proposed : 0);
      },
    });
  }

  /** One verification: `proposed` drafts, `accepted` of them accepted. */
  observe(proposed: number, accepted: number): void {
    this.totals.proposed += proposed;
    this.totals.accepted += accepted;
    this.proposed.inc(proposed);
    this.accepted.inc(accepted);
    this.lengths.observe(accepted);
  }
}
