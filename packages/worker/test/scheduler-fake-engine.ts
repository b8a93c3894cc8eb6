/**
 * A small deterministic engine at the `Engine` seam, for scheduler unit tests only.
 * It keeps a token-id "KV pool": each step writes the tokens it runs into their block slots, and a
 * sampled token is a hash of every token READ BACK FROM THE POOL for positions 0..last. So a
 * scheduler that hands out a wrong block table, reuses a wrong cached block or frees a block too
 * early produces different tokens (or an "uninitialized KV" error) than a correct one.
 */
import type { Engine, StepOutput, StepSequence } from "@radixserve/engine-native";

export class FakeEngine implements Pick<Engine, "step"> {
  readonly pool: Int32Array;
  steps: StepSequence[][] = [];

  constructor(
    readonly numBlocks: number,
    readonly blockSize: number,
    readonly vocabSize: number,
    /** Tokens below this are never sampled (keeps EOS ids out unless a test wants them). */
    readonly minToken = 3,
  ) {
    this.pool = new Int32Array(numBlocks * blockSize).fill(-1);
  }

  async step(seqs: StepSequence[]): Promise<(StepOutput | null)[]> {
    this.steps.push(seqs);
    await new Promise((r) => setImmediate(r));
    const bs = this.blockSize;
    const out: (StepOutput | null)[] = [];
    for (const s of seqs) {
      const end = s.startPos + s.tokens.length;
      if (s.blockTable.length < Math.ceil(end / bs))
        throw new Error(`block table of ${s.blockTable.length} blocks does not cover ${end} positions`);
      s.tokens.forEach((t, j) => {
        const pos = s.startPos + j;
        this.pool[s.blockTable[Math.floor(pos / bs)]! * bs + (pos % bs)] = t;
      });
      if (!s.sample) {
        out.push(null);
        continue;
      }
      let h = 0x12345;
      for (let pos = 0; pos < end; pos++) {
        const v = this.pool[s.blockTable[Math.floor(pos / bs)]! * bs + (pos % bs)]!;
        if (v < 0) throw new Error(`uninitialized KV at position ${pos}`);
        h = (Math.imul(h ^ v, 0x9e3779b1) + pos) | 0;
      }
      const token = this.minToken + ((h >>> 0) % (this.vocabSize - this.minToken));
      out.push({ token, logprob: -1 });
    }
    return out;
  }
}
