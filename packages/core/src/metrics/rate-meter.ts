/**
 * The per-second rate of a monotonic total (tokens, bytes) over a recent window, from samples
 * taken whenever it is read: no hook on the hot path, one array of a few entries. Callers read it
 * about once a second (the router's load polls); the first read gives 0.
 */
export class RateMeter {
  private readonly samples: { t: number; v: number }[] = [];

  /** `windowMs`: how far back the rate looks (default 10 s). */
  constructor(private readonly windowMs = 10_000) {}

  /** Records `total` at `now` (ms) and returns its growth per second over the window. */
  rate(total: number, now = performance.now()): number {
    const last = this.samples.at(-1);
    // A total that went down (a restarted component) starts the window over.
    if (last && total < last.v) this.samples.length = 0;
    this.samples.push({ t: now, v: total });
    // Keep one sample at or before the window's start so the rate spans the whole window.
    while (this.samples.length > 2 && this.samples[1]!.t <= now - this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const dt = (now - first.t) / 1000;
    return dt > 0 ? (total - first.v) / dt : 0;
  }
}
