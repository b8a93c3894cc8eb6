/**
 * Stop strings over a text stream. Text that could be the beginning of a stop string is held
 * back until it is known not to be one, so a stop string split across chunks is still found and
 * never leaks to the client; once found, the output ends just before it (the stop string is
 * trimmed, as OpenAI's API does).
 *
 * The held-back buffer is at most (longest stop string - 1) characters, so each push costs
 * O(chunk + longest stop) per stop string.
 */

export interface StopMatch {
  /** Text safe to emit now. */
  text: string;
  /** True when a stop string was found: `text` ends right before it, and the stream must end. */
  stopped: boolean;
  /** The stop string that matched, when stopped. */
  stop?: string;
}

export class StopStringMatcher {
  private held = "";
  private done = false;
  private readonly stops: string[];

  /** Empty strings are ignored (they would match everywhere). */
  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => typeof s === "string" && s.length > 0);
  }

  get stopped(): boolean {
    return this.done;
  }

  push(chunk: string): StopMatch {
    if (this.done) return { text: "", stopped: true };
    if (this.stops.length === 0) return { text: chunk, stopped: false };
    const pending = this.held + chunk;
    // The held text contained no whole stop string, so any match here is new; take the earliest.
    let at = -1;
    let which: string | undefined;
    for (const s of this.stops) {
      const i = pending.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) {
        at = i;
        which = s;
      }
    }
    if (at >= 0) {
      this.done = true;
      this.held = "";
      return { text: pending.slice(0, at), stopped: true, stop: which! };
    }
    const hold = this.partialSuffixLength(pending);
    this.held = pending.slice(pending.length - hold);
    return { text: pending.slice(0, pending.length - hold), stopped: false };
  }

  /** End of stream without a stop: releases the held-back text. */
  flush(): string {
    const out = this.done ? "" : this.held;
    this.held = "";
    return out;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  private partialSuffixLength(text: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, text.length); k > best; k--) {
        if (text.endsWith(s.slice(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
