/**
 * `program(fn)`: an SGLang-style program. `run(args)` runs it once; `runBatch(list)` runs it over
 * many inputs, `concurrency` at a time, with an optional progress bar, and returns the states in
 * input order. A program that fails has its error in its state (`state.error`) in a batch, and is
 * thrown by `run`.
 */
import { RuntimeEndpoint } from "./endpoint.js";
import { ProgressBar, type ProgressMode, type ProgressSink } from "./progress.js";
import { ProgramState } from "./state.js";

export type ProgramFn<A> = (s: ProgramState, args: A) => void | Promise<void>;

export interface RunOptions {
  /** Where to send it: an endpoint, or the router's base URL. Default: the default endpoint. */
  endpoint?: RuntimeEndpoint | string;
}

export interface BatchOptions extends RunOptions {
  /** Programs in flight at once. Default 8. */
  concurrency?: number;
  /** A progress bar: true picks "tty" on a terminal, else "log" lines. Default false. */
  progress?: boolean | ProgressMode;
  /** Where the progress goes. Default process.stderr. */
  progressOutput?: ProgressSink;
  /**
   * Runs the first program alone until its first server call has answered, then the rest: programs
   * that share a prefix (a system prompt) then find it in the server's prefix cache instead of all
   * computing it at once. Default true.
   */
  primePrefix?: boolean;
}

/** A state of a batch: the program's state, and its error when it failed. */
export type BatchState = ProgramState & { error?: unknown };

let defaultEndpoint: RuntimeEndpoint | null = null;

/** Sets the endpoint that run/runBatch use when none is given (SGLang's set_default_backend). */
export function setDefaultEndpoint(e: RuntimeEndpoint | string): void {
  defaultEndpoint = typeof e === "string" ? new RuntimeEndpoint(e) : e;
}

function endpointOf(opts: RunOptions): RuntimeEndpoint {
  if (typeof opts.endpoint === "string") return new RuntimeEndpoint(opts.endpoint);
  const e = opts.endpoint ?? defaultEndpoint;
  if (!e) throw new Error("no endpoint: pass { endpoint } or call setDefaultEndpoint(url)");
  return e;
}

export class Program<A> {
  constructor(private readonly fn: ProgramFn<A>) {}

  /** Runs the program once; resolves with its state when every queued call (and fork) is done. */
  async run(args: A, opts: RunOptions = {}): Promise<ProgramState> {
    const s = new ProgramState(endpointOf(opts));
    await this.fn(s, args);
    await s.sync();
    return s;
  }

  /** Runs the program over `list`; the states come back in input order. */
  async runBatch(list: readonly A[], opts: BatchOptions = {}): Promise<BatchState[]> {
    const endpoint = endpointOf(opts);
    const concurrency = Math.max(1, opts.concurrency ?? 8);
    const out = opts.progressOutput ?? process.stderr;
    const mode: ProgressMode | null =
      opts.progress === true ? (out.isTTY ? "tty" : "log") : opts.progress ? opts.progress : null;
    const bar = mode ? new ProgressBar(list.length, mode, out) : null;
    const states: BatchState[] = new Array(list.length);
    const runOne = async (i: number): Promise<void> => {
      const s: BatchState = states[i]!;
      try {
        await this.fn(s, list[i]!);
        await s.sync();
        bar?.tick(true);
      } catch (err) {
        s.error = err;
        bar?.tick(false);
      }
    };
    for (let i = 0; i < list.length; i++) states[i] = new ProgramState(endpoint);
    let next = 0;
    const worker = async () => {
      while (next < list.length) await runOne(next++);
    };
    const workers = Math.min(concurrency, list.length);
    if ((opts.primePrefix ?? true) && workers > 1) {
      next = 1;
      const alone = runOne(0);
      const first = alone.then(worker);
      await Promise.race([states[0]!.firstCall, alone]);
      await Promise.all([first, ...Array.from({ length: workers - 1 }, worker)]);
    } else {
      await Promise.all(Array.from({ length: workers }, worker));
    }
    bar?.finish();
    return states;
  }
}

/** Wraps an async function of (state, args) as a program. */
export function program<A>(fn: ProgramFn<A>): Program<A> {
  return new Program(fn);
}
