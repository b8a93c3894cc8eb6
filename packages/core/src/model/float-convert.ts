/**
 * f32 → bf16 / f16 conversion with round-to-nearest-even, the rounding PyTorch's `.to()` uses,
 * so a bf16/f16 model is exactly the rounded f32 model of the same seed.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Rounds each f32 to bf16 (RNE; NaN stays a quiet NaN). Returns the raw 16-bit patterns. */
export function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i]!;
    if ((x & 0x7fffffff) > 0x7f800000) {
      out[i] = ((x >>> 16) | 0x40) & 0xffff;
      continue;
    }
    const roundingBias = 0x7fff + ((x >>> 16) & 1);
    out[i] = ((x + roundingBias) >>> 16) & 0xffff;
  }
  return out;
}

/** Rounds one f32 to IEEE binary16 (RNE, subnormals, overflow to ±Inf). Returns the bit pattern. */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15; // re-biased exponent
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // Subnormal (or zero) in f16: shift the implicit-1 mantissa right, rounding to nearest even.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e; // 13 for the normal case plus (1 - e)
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1) === 1)) m++;
    return sign | m; // a carry into bit 10 correctly yields the smallest normal
  }
  let m = mant >>> 13;
  const rest = mant & 0x1fff;
  let ee = e;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1) === 1)) {
    m++;
    if (m === 0x400) {
      m = 0;
      ee++;
      if (ee >= 0x1f) return sign | 0x7c00;
    }
  }
  return sign | (ee << 10) | m;
}

export function f32ToF16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]!);
  return out;
}

/** bf16 bit pattern → f32 value (exact). */
export function bf16ToF32(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

/** f16 bit pattern → f32 value (exact). */
export function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
