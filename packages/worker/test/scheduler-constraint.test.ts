// The scheduler drives a request's grammar: each sampling step carries the matcher's mask as
// allowedTokens, each sampled token advances the matcher, and the request finishes ("stop") once
// the grammar is complete; a token the grammar refuses ends the request with an error and frees it.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { StepOutput, StepSequence } from "@radixserve/engine-native";
import type { RequestEvent, TokenConstraint } from "../src/scheduler/request.js";
import { Scheduler } from "../src/scheduler/scheduler.js";
import { fakeEngineConfig } from "./scheduler-fake-engine.js";

const VOCAB = 1000;

/** Allows exactly `script[i]` at step i; stopped after the last. */
class ScriptedGrammar implements TokenConstraint {
  accepted: number[] = [];
  masks = 0;
  constructor(private readonly script: number[]) {}
  mask(): Uint32Array {
    this.masks++;
    const m = new Uint32Array(Math.ceil(VOCAB / 32));
    const t = this.script[this.accepted.length]!;
    m[t >> 5] = 1 << (t & 31);
    return m;
  }
  accept(token: number): void {
    if (token !== this.script[this.accepted.length]) throw new Error(`token ${token} not allowed`);
    this.accepted.push(token);
  }
  get stopped(): boolean {
    return this.accepted.length === this.script.length;
  }
}

/** Samples the lowest allowed token (or `free` without a mask): what native sampling does under a one-token mask. */
function sampleStep(steps: StepSequence[], free: number): (StepOutput | null)[] {
  return steps.map((s) => {
    if (!s.sample) return null;
    const m = s.sampling?.allowedTokens;
    if (!m) return { token: free, logprob: 0 };
    const w = m.findIndex((x) => x !== 0);
    return { token: w * 32 + (31 - Math.clz32(m[w]! & -m[w]!)), logprob: 0 };
  });
}

async function run(s: Scheduler, free: number): Promise<void> {
  for (let i = 0; i < 100 && !s.idle; i++) {
    const b = s.schedule();
    assert.ok(b);
    s.postProcess(b, sampleStep(b.steps, free));
  }
  assert.equal(s.idle, true);
  assert.deepEqual(s.checkIntegrity(), []);
}

test("scheduler: the grammar's mask goes with each sampling step and its stop ends the request", async () => {
  const s = new Scheduler(fakeEngineConfig("constraint", { vocabSize: VOCAB, eosTokenIds: [2] }));
  const g = new ScriptedGrammar([40, 41, 999]);
  const events: RequestEvent[] = [];
  const r = s.submit(
    { id: "a", inputIds: [5, 6, 7, 8, 9], sampling: {}, maxNewTokens: 50, constraint: g },
    (e) => events.push(e),
  );
  assert.ok(r.ok);
  await run(s, 7);
  assert.deepEqual(g.accepted, [40, 41, 999]);
  assert.equal(g.masks, 3);
  assert.deepEqual(
    events.filter((e) => e.type === "token").map((e) => (e as { tokenId: number }).tokenId),
    [40, 41, 999],
  );
  const done = events.at(-1)!;
  assert.equal(done.type, "finished");
  assert.equal((done as { reason: string }).reason, "stop");
});

test("scheduler: a token outside the grammar ends the request with an error and frees its blocks", async () => {
  const s = new Scheduler(fakeEngineConfig("constraint-bad", { vocabSize: VOCAB, eosTokenIds: [2] }));
  const g = new ScriptedGrammar([40, 41]);
  // A constraint whose mask allows token 7, which its matcher then refuses.
  const liar: TokenConstraint = {
    mask: () => Uint32Array.of(1 << 7),
    accept: (t) => g.accept(t),
    stopped: false,
  };
  const events: RequestEvent[] = [];
  assert.ok(
    s.submit({ id: "b", inputIds: [5, 6, 7], sampling: {}, maxNewTokens: 5, constraint: liar }, (e) =>
      events.push(e),
    ).ok,
  );
  await run(s, 7);
  const last = events.at(-1)!;
  assert.equal(last.type, "error");
  assert.match((last as { error: Error }).error.message, /token 7 of request b is outside its grammar/);
  const st = s.stats();
  assert.equal(st.kvBlocksFree + st.kvBlocksEvictable, st.kvBlocksTotal);
});
