/**
 * A small seeded PRNG (xoshiro128**) for the model maker.
 *
 * Model weights must be the same bytes on every machine for a given preset/dtype/seed, because
 * the golden fixtures pin a sha256 of model.safetensors. So only integer arithmetic (Math.imul,
 * shifts) and exactly-rounded IEEE operations are used here: no Math.random, no transcendental
 * functions whose last bit may differ between platforms.
 */

/** FNV-1a over the UTF-16 code units of `s`: used to give each tensor its own stream. */
export function hashString32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32: expands one 32-bit seed into well-mixed state words. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Xoshiro128 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Two 32-bit seeds (e.g. the user seed and a tensor-name hash) select the stream. */
  constructor(seed: number, stream = 0) {
    const st = { s: (seed ^ Math.imul(stream, 0x9e3779b1)) | 0 };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the all-zero state is a fixed point
  }

  /** Next uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1) with 24 bits of resolution (exact in f32 and f64). */
  nextUnit(): number {
    return (this.nextU32() >>> 8) * 5.9604644775390625e-8; // 2^-24
  }

  /**
   * Fills `out` with values uniform in [center - halfWidth, center + halfWidth).
   * A uniform distribution of half-width sqrt(3)·std has standard deviation std.
   */
  fillUniform(out: Float32Array, center: number, halfWidth: number): void {
    for (let i = 0; i < out.length; i++) out[i] = center + (2 * this.nextUnit() - 1) * halfWidth;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
