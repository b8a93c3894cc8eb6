/** Generated tokens per second over a sliding window (GetLoad.generation_tokens_per_s). */
export class TokenRate {
  private readonly events: Array<{ t: number; n: number }> = [];

  constructor(private readonly windowMs = 5000) {}

  add(n: number, now = performance.now()): void {
    if (n > 0) this.events.push({ t: now, n });
    this.trim(now);
  }

  perSecond(now = performance.now()): number {
    this.trim(now);
    const total = this.events.reduce((a, e) => a + e.n, 0);
    return total / (this.windowMs / 1000);
  }

  private trim(now: number): void {
    while (this.events.length > 0 && this.events[0]!.t < now - this.windowMs) this.events.shift();
  }
}
