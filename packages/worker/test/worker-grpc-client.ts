import type {
  GenerateRequest,
  GenerateResponse__Output,
  GetLoadResponse__Output,
  WorkerServiceClient,
} from "@radixserve/core";

export interface GenerateResult {
  tokens: number[];
  events: GenerateResponse__Output[];
  last: GenerateResponse__Output | undefined;
  /** The call's non-OK gRPC status, when it ended with one after a WorkerError event. */
  status?: { code: number; details: string };
}

/** Runs one Generate call to its end. `onToken` may cancel the call (returns true to cancel). */
export function generate(
  client: WorkerServiceClient,
  req: GenerateRequest,
  onToken?: (n: number) => boolean,
): Promise<GenerateResult & { cancelled: boolean }> {
  return new Promise((resolve, reject) => {
    const r: GenerateResult & { cancelled: boolean } = {
      tokens: [],
      events: [],
      last: undefined,
      cancelled: false,
    };
    const call = client.Generate(req);
    call.on("data", (e: GenerateResponse__Output) => {
      r.events.push(e);
      r.last = e;
      if (e.event === "token" && e.token) {
        r.tokens.push(e.token.tokenId);
        if (onToken?.(r.tokens.length)) {
          r.cancelled = true;
          call.cancel();
        }
      }
    });
    call.on("end", () => resolve(r));
    call.on("error", (err: Error & { code?: number; details?: string }) => {
      // A refused request ends with a WorkerError event and then the INVALID_ARGUMENT status.
      if (r.last?.event === "error") r.status = { code: err.code ?? -1, details: err.details ?? "" };
      if (r.cancelled || r.status) resolve(r);
      else reject(err);
    });
  });
}

export function unary<T>(fn: (cb: (err: Error | null, res?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res as T))));
}

export function getLoad(client: WorkerServiceClient): Promise<GetLoadResponse__Output> {
  return unary((cb) => client.GetLoad({}, cb));
}

/** Polls GetLoad until `pred` holds (or throws after timeoutMs). */
export async function waitForLoad(
  client: WorkerServiceClient,
  pred: (l: GetLoadResponse__Output) => boolean,
  timeoutMs = 10_000,
): Promise<GetLoadResponse__Output> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const l = await getLoad(client);
    if (pred(l)) return l;
    if (Date.now() > until) throw new Error(`load did not settle: ${JSON.stringify(l)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
