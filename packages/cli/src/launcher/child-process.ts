/**
 * A supervised child process of the launcher: spawned with piped stdout (to watch for its READY
 * line, everything else is forwarded), stderr inherited, and an exit promise. stop() sends
 * SIGTERM and escalates to SIGKILL after a grace period, so no child outlives the launcher.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface ChildExit {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class SupervisedChild {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<ChildExit>;
  private readonly lineWaiters: { prefix: string; resolve: (rest: string) => void }[] = [];

  constructor(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    this.name = name;
    this.proc = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"], env });
    this.exited = new Promise((resolve) => {
      this.proc.once("exit", (code, signal) => resolve({ name, code, signal }));
      this.proc.once("error", () => resolve({ name, code: null, signal: null }));
    });
    const rl = createInterface({ input: this.proc.stdout! });
    rl.on("line", (line) => {
      const waiter = this.lineWaiters.find((w) => line.startsWith(w.prefix));
      if (waiter) {
        this.lineWaiters.splice(this.lineWaiters.indexOf(waiter), 1);
        waiter.resolve(line.slice(waiter.prefix.length).trim());
      } else {
        process.stdout.write(`[${name}] ${line}\n`);
      }
    });
  }

  /** Resolves with the rest of the first stdout line starting with `prefix`; rejects if the child exits first. */
  waitForLine(prefix: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} did not print ${prefix} within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      this.lineWaiters.push({
        prefix,
        resolve: (rest) => {
          clearTimeout(timer);
          resolve(rest);
        },
      });
      void this.exited.then((e) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited before it was ready (${describeExit(e)})`));
      });
    });
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async stop(graceMs = 10_000): Promise<ChildExit> {
    if (this.running) {
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => {
        if (this.running) this.proc.kill("SIGKILL");
      }, graceMs);
      const e = await this.exited;
      clearTimeout(timer);
      return e;
    }
    return this.exited;
  }
}

export function describeExit(e: ChildExit): string {
  if (e.signal) return `killed by ${e.signal}`;
  if (e.code === null) return "failed to start";
  return `exit code ${e.code}`;
}
