/**
 * runBatch's progress display: a bar redrawn in place on a terminal, or plain log lines (one per
 * ~10% and at the end) when the output is not a TTY (CI logs). No dependency.
 */
export type ProgressMode = "tty" | "log";

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export class ProgressBar {
  private done = 0;
  private failed = 0;
  private lastLogged = -1;
  private readonly t0 = performance.now();

  constructor(
    private readonly total: number,
    private readonly mode: ProgressMode,
    private readonly out: ProgressSink,
    private readonly width = 30,
  ) {
    this.render();
  }

  tick(ok: boolean): void {
    this.done++;
    if (!ok) this.failed++;
    this.render();
  }

  finish(): void {
    if (this.mode === "tty") this.out.write("\n");
  }

  private render(): void {
    const frac = this.total === 0 ? 1 : this.done / this.total;
    const secs = (performance.now() - this.t0) / 1000;
    const rate = secs > 0 ? this.done / secs : 0;
    const tail = `${this.done}/${this.total} [${secs.toFixed(1)}s, ${rate.toFixed(2)} it/s${this.failed ? `, ${this.failed} failed` : ""}]`;
    if (this.mode === "tty") {
      const fill = Math.round(frac * this.width);
      this.out.write(
        `\r${Math.floor(frac * 100)
          .toString()
          .padStart(3)}%|${"█".repeat(fill)}${" ".repeat(this.width - fill)}| ${tail}`,
      );
      return;
    }
    const decile = Math.floor(frac * 10);
    if (decile === this.lastLogged && this.done !== this.total) return;
    this.lastLogged = decile;
    this.out.write(`progress ${Math.floor(frac * 100)}% ${tail}\n`);
  }
}
