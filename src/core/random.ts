/**
 * The one seeded generator of zipml's own code: xoshiro128** (Blackman & Vigna 2018), its 128-bit
 * state filled by SplitMix32 from (seed, stream), so independent streams come from one seed.
 * Integer output is the same on every engine; normal() goes through Math.log/cos, which engines
 * may round differently, so anything derived from it that must survive a round trip is stored,
 * not regenerated. (k-means keeps Faiss's own generator, to follow Faiss's choices exactly.)
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | undefined;

  constructor(seed: number, stream = 0) {
    let x = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform in [0, 1), 32 random bits. */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  float53(): number {
    return (this.u32() * 2097152 + (this.u32() >>> 11)) / 9007199254740992;
  }

  /** Standard normal by Box–Muller; the second value of each pair is kept for the next call. */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(1 - this.float()));
    const t = 2 * Math.PI * this.float();
    this.spare = r * Math.sin(t);
    return r * Math.cos(t);
  }

  /** Uniform integer in [0, n), n <= 2^32 (multiply-shift; the bias is below 2^-32 * n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

