import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  normalizeFrequencies, ransDecodeBlock, ransDecodeBlockReference, ransEncodeBlock, ransEncodeBlockReference,
  ransPayloadInfo, RANS_MAX_BLOCK, RANS_MIN_SCALE_BITS, ransEstimateBytes,
} from '../../src/core/entropy/rans.js';
import { entropyBits, histogram } from '../../src/core/entropy/histogram.js';
import { isZipmlError } from '../../src/core/errors.js';
import { setKernelPath, simdSupported } from '../../src/kernels/loader.js';
import { Rng } from '../util/rng.js';

const SCALES = [10, 11, 12, 13, 14, 15];

/** n bytes drawn from a Zipf-like law over `alphabet` symbols (skew 0 = uniform). */
function skewed(rng: Rng, n: number, alphabet: number, skew: number): Uint8Array {
  const w = Array.from({ length: alphabet }, (_, i) => 1 / (i + 1) ** skew);
  const cdf: number[] = [];
  let acc = 0;
  for (const x of w) cdf.push((acc += x));
  // A random permutation of symbols, so the frequent ones are not always the low byte values.
  const perm = Array.from({ length: 256 }, (_, i) => i);
  for (let i = 255; i > 0; i--) {
    const j = rng.int(i + 1);
    [perm[i], perm[j]] = [perm[j]!, perm[i]!];
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.float() * acc;
    let lo = 0;
    while (cdf[lo]! < u) lo++;
    out[i] = perm[lo]!;
  }
  return out;
}

/** Encodes with both paths (requiring identical bytes) and checks both decoders restore src. */
function roundTrip(src: Uint8Array, scaleBits?: number): Uint8Array | null {
  const opts = scaleBits === undefined ? undefined : { scaleBits };
  const ref = ransEncodeBlockReference(src, opts);
  const fast = ransEncodeBlock(src, opts);
  assert.deepEqual(fast, ref, 'wasm and reference payloads differ');
  if (!ref) return null;
  assert.ok(ref.length < src.length, 'payload must beat raw');
  for (const decode of [ransDecodeBlock, ransDecodeBlockReference]) {
    const dst = new Uint8Array(src.length);
    decode(ref, dst);
    assert.ok(Buffer.from(dst).equals(Buffer.from(src)), `${decode.name} did not restore the input`);
  }
  return ref;
}

test('rans round trips skewed inputs at every scaleBits, wasm bytes equal the reference', () => {
  const rng = new Rng(1);
  for (const sb of SCALES) {
    for (const [n, alphabet, skew] of [
      [100, 4, 1], [1000, 30, 1.2], [4099, 256, 1], [20000, 200, 0.6], [65543, 64, 2], [70001, 2, 3],
    ] as const) {
      const src = skewed(rng, n, alphabet, skew);
      const p = roundTrip(src, sb);
      assert.ok(p, `n=${n} alphabet=${alphabet} skew=${skew} sb=${sb} should compress`);
      assert.equal(ransPayloadInfo(p).scaleBits, sb);
    }
  }
});

test('rans handles many random shapes and lengths (narrow and wide blocks, every n mod 16)', () => {
  const rng = new Rng(2);
  for (let t = 0; t < 150; t++) {
    const n = 1 + rng.int(t < 100 ? 600 : 30000);
    const src = skewed(rng, n, 2 + rng.int(255), rng.float() * 3);
    roundTrip(src, RANS_MIN_SCALE_BITS + rng.int(6));
  }
});

test('rans returns null for incompressible data and single-symbol blocks', () => {
  const rng = new Rng(3);
  assert.equal(roundTrip(rng.bytes(5000)), null);
  assert.equal(roundTrip(new Uint8Array([42])), null);
  assert.equal(roundTrip(new Uint8Array(100000).fill(7)), null);
  assert.equal(roundTrip(new Uint8Array([1, 2])), null); // the table and states outweigh 2 bytes
});

test('rans edge cases: 2 symbols, all 256 symbols, one rare symbol among huge counts, max block', () => {
  const rng = new Rng(4);
  const two = new Uint8Array(2000);
  for (let i = 0; i < two.length; i++) two[i] = rng.float() < 0.1 ? 200 : 3;
  for (const sb of SCALES) assert.ok(roundTrip(two, sb));

  const all = skewed(rng, 50000, 256, 1.5);
  for (let s = 0; s < 256; s++) all[s * 7] = s; // make sure every value occurs
  for (const sb of SCALES) {
    const p = roundTrip(all, sb)!;
    const { freqs } = ransPayloadInfo(p);
    assert.ok(freqs.every((f) => f >= 1));
  }

  // One 255 and one 1 among a million zeros (and a sprinkle of 2s to be compressible anyway).
  const rare = new Uint8Array(RANS_MAX_BLOCK);
  for (let i = 0; i < rare.length; i += 1000) rare[i] = 2;
  rare[123457] = 255;
  rare[RANS_MAX_BLOCK - 1] = 1;
  for (const sb of [10, 15]) {
    const p = roundTrip(rare, sb)!;
    const { freqs } = ransPayloadInfo(p);
    assert.equal(freqs[255], 1);
    assert.equal(freqs[1], 1);
  }

  const big = skewed(rng, RANS_MAX_BLOCK, 40, 1.1);
  const p = roundTrip(big)!;
  const bound = entropyBits(histogram(big)) / 8;
  assert.ok(p.length < bound * 1.005, `payload ${p.length} vs order-0 bound ${bound}`);
});

test('rans works on views into larger buffers', () => {
  const src = skewed(new Rng(9), 30000, 20, 1);
  const payload = ransEncodeBlock(src.subarray(7, 20007))!;
  const padded = new Uint8Array(payload.length + 13);
  padded.set(payload, 5);
  for (const decode of [ransDecodeBlock, ransDecodeBlockReference]) {
    const out = new Uint8Array(20020);
    decode(padded.subarray(5, 5 + payload.length), out.subarray(9, 20009));
    assert.ok(Buffer.from(out.subarray(9, 20009)).equals(Buffer.from(src.subarray(7, 20007))));
    assert.ok(out.subarray(0, 9).every((v) => v === 0) && out.subarray(20009).every((v) => v === 0));
  }
});

test('rans argument checks', () => {
  const src = skewed(new Rng(5), 1000, 10, 1);
  const code = (f: () => unknown, want: string) =>
    assert.throws(f, (e: unknown) => isZipmlError(e) && e.code === want);
  code(() => ransEncodeBlock(new Uint8Array(0)), 'E_ARG');
  code(() => ransEncodeBlock(new Uint8Array(RANS_MAX_BLOCK + 1)), 'E_ARG');
  for (const sb of [9, 16, 12.5, NaN]) code(() => ransEncodeBlock(src, { scaleBits: sb }), 'E_ARG');
  // A histogram that does not describe src: wrong total, then a missing symbol.
  code(() => ransEncodeBlock(src, undefined, new Uint32Array(256)), 'E_ARG');
  const h = histogram(src);
  const present = h.findIndex((c) => c > 0);
  const other = h.findIndex((c, s) => c > 0 && s !== present);
  h[other]! += h[present]!;
  h[present] = 0;
  code(() => ransEncodeBlock(src, undefined, h), 'E_ARG');
  code(() => ransEncodeBlockReference(src, undefined, h), 'E_ARG');
  // A correct histogram gives the same payload as none.
  assert.deepEqual(ransEncodeBlock(src, undefined, histogram(src)), ransEncodeBlock(src));

  const p = ransEncodeBlock(src)!;
  code(() => ransDecodeBlock(p, new Uint8Array(0)), 'E_ARG');
  code(() => ransDecodeBlock(p, new Uint8Array(RANS_MAX_BLOCK + 1)), 'E_LIMIT');
  // A wrong decoded size is caught by the end-state check, or runs out of stream.
  for (const n of [999, 1001, 1008]) {
    assert.throws(
      () => ransDecodeBlock(p, new Uint8Array(n)),
      (e: unknown) => isZipmlError(e, 'E_CORRUPT') || isZipmlError(e, 'E_TRUNCATED'),
    );
  }
});

test('normalizeFrequencies reaches the optimum of the greedy-from-ones allocation', () => {
  // Allocating units one at a time to the largest marginal gain, from all ones, is optimal for
  // this separable concave objective; compare costs on random histograms.
  const rng = new Rng(6);
  const cost = (h: Uint32Array, f: ArrayLike<number>, M: number) => {
    let bits = 0;
    for (let s = 0; s < 256; s++) if (h[s]! > 0) bits += h[s]! * Math.log2(M / f[s]!);
    return bits;
  };
  for (let t = 0; t < 40; t++) {
    const sb = RANS_MIN_SCALE_BITS + (t % 3);
    const M = 1 << sb;
    const h = new Uint32Array(256);
    const k = 2 + rng.int(255);
    for (let i = 0; i < k; i++) h[rng.int(256)] = rng.float() < 0.3 ? 1 + rng.int(3) : 1 + rng.int(1 << (t % 20));
    const f = normalizeFrequencies(h, sb);
    assert.equal(f.reduce((a, b) => a + b, 0), M);
    for (let s = 0; s < 256; s++) assert.equal(f[s]! > 0, h[s]! > 0);
    const g = new Float64Array(256);
    let sum = 0;
    for (let s = 0; s < 256; s++) if (h[s]! > 0) (g[s] = 1), sum++;
    for (; sum < M; sum++) {
      let bs = -1, bg = -1;
      for (let s = 0; s < 256; s++) {
        if (!h[s]) continue;
        const gain = h[s]! * Math.log2((g[s]! + 1) / g[s]!);
        if (gain > bg) (bg = gain), (bs = s);
      }
      g[bs]!++;
    }
    assert.ok(cost(h, f, M) <= cost(h, g, M) + 1e-6, `t=${t}: ${cost(h, f, M)} > ${cost(h, g, M)}`);
  }
});

test('rans decoder rejects 10,000+ mutated payloads with ZipmlError or decodes them exactly', (t) => {
  // RANS_FUZZ_TRIALS / RANS_FUZZ_SEED run longer or different campaigns by hand.
  const totalTrials = Number(process.env.RANS_FUZZ_TRIALS ?? 12000);
  const rng = new Rng(Number(process.env.RANS_FUZZ_SEED ?? 7));
  const bases: Array<{ src: Uint8Array; payload: Uint8Array }> = [];
  for (let b = 0; bases.length < 24; b++) {
    const n = [45, 70, 130, 1000, 5000, 9001][b % 6]!; // narrow and wide blocks
    const src = b % 4 === 3 ? skewed(rng, n, 2, 3) : skewed(rng, n, 3 + rng.int(120), 1 + rng.float() * 2);
    const payload = ransEncodeBlock(src, { scaleBits: SCALES[(b >> 1) % 6]! });
    if (payload) bases.push({ src, payload });
  }
  assert.ok(bases.some((b) => b.src.length < 100), 'some bases should be tiny');

  const mutate = (p: Uint8Array, tableEnd: number, lanes: number): { bytes: Uint8Array; n: number; what: string } => {
    const m = p.slice();
    const kind = rng.int(9);
    const at = (lo: number, hi: number) => lo + rng.int(Math.max(1, hi - lo));
    switch (kind) {
      case 0: // one to three bit flips anywhere
      case 1: {
        const flips = 1 + rng.int(3);
        for (let i = 0; i < flips; i++) m[rng.int(m.length)]! ^= 1 << rng.int(8);
        return { bytes: m, n: 0, what: 'bit flips' };
      }
      case 2:
        return { bytes: m.subarray(0, rng.int(m.length)), n: 0, what: 'truncation' };
      case 3: {
        const ext = new Uint8Array(m.length + 1 + rng.int(8));
        ext.set(m);
        for (let i = m.length; i < ext.length; i++) ext[i] = rng.int(256);
        return { bytes: ext, n: 0, what: 'extension' };
      }
      case 4: // the header byte
        m[0] = rng.int(256);
        return { bytes: m, n: 0, what: 'header byte' };
      case 5: // a bit inside the table
        m[at(1, tableEnd)]! ^= 1 << rng.int(8);
        return { bytes: m, n: 0, what: 'table bit' };
      case 6: {
        // a state: a bit flip or a random value
        const j = rng.int(lanes);
        const dv = new DataView(m.buffer);
        if (rng.float() < 0.5) dv.setUint32(tableEnd + 4 * j, dv.getUint32(tableEnd + 4 * j, true) ^ (1 << rng.int(32)), true);
        else dv.setUint32(tableEnd + 4 * j, rng.u32(), true);
        return { bytes: m, n: 0, what: 'state' };
      }
      case 7: {
        // a stream word replaced, or a word deleted
        const s0 = tableEnd + 4 * lanes;
        if (m.length - s0 < 2) return { bytes: m, n: 1, what: 'dst size' };
        const w = s0 + 2 * rng.int((m.length - s0) >> 1);
        if (rng.float() < 0.5) {
          m[w] = rng.int(256);
          m[w + 1] = rng.int(256);
          return { bytes: m, n: 0, what: 'stream word' };
        }
        const del = new Uint8Array(m.length - 2);
        del.set(m.subarray(0, w));
        del.set(m.subarray(w + 2), w);
        return { bytes: del, n: 0, what: 'stream word deleted' };
      }
      default:
        return { bytes: m, n: rng.float() < 0.5 ? -1 : 1 + rng.int(9), what: 'dst size' };
    }
  };

  const outcome = (decode: typeof ransDecodeBlock, bytes: Uint8Array, dst: Uint8Array): string => {
    try {
      decode(bytes, dst);
      return 'ok';
    } catch (e) {
      if (!isZipmlError(e)) throw e;
      return `${e.code}: ${e.message}`;
    }
  };

  const describe = (orig: Uint8Array, mut: Uint8Array, src: Uint8Array, dst: Uint8Array): string => {
    const info = ransPayloadInfo(orig);
    const diffs: string[] = [];
    for (let i = 0; i < Math.max(orig.length, mut.length); i++) {
      if (orig[i] !== mut[i]) diffs.push(`@${i}: ${orig[i]}->${mut[i]}`);
    }
    const firstBad = src.findIndex((v, i) => dst[i] !== v);
    return `n=${src.length} len=${orig.length} table=${info.tableBytes} lanes=${info.lanes} sb=${info.scaleBits} diffs=${diffs.join(',')} firstBadOut=${firstBad} bad=${src.filter((v, i) => dst[i] !== v).length}`;
  };
  let trials = 0, rejected = 0;
  const byKind = new Map<string, number>();
  const byCode = new Map<string, number>();
  for (; trials < totalTrials; trials++) {
    const { src, payload } = bases[trials % bases.length]!;
    const { tableBytes, lanes } = ransPayloadInfo(payload);
    const { bytes, n, what } = mutate(payload, tableBytes, lanes);
    const dst = new Uint8Array(Math.max(1, src.length + n));
    const dstRef = new Uint8Array(dst.length);
    const got = outcome(ransDecodeBlock, bytes, dst);
    const gotRef = outcome(ransDecodeBlockReference, bytes, dstRef);
    assert.equal(got, gotRef, `trial ${trials} (${what}): wasm and reference disagree`);
    if (got === 'ok') {
      assert.ok(
        dst.length === src.length && Buffer.from(dst).equals(Buffer.from(src)),
        `trial ${trials} (${what}): a mutated payload decoded without error to wrong data: ${describe(payload, bytes, src, dst)}`,
      );
      assert.ok(Buffer.from(dstRef).equals(Buffer.from(src)));
    } else {
      rejected++;
      byKind.set(what, (byKind.get(what) ?? 0) + 1);
      const key = got.replace(/\d+/g, '#');
      byCode.set(key, (byCode.get(key) ?? 0) + 1);
    }
  }
  t.diagnostic(`${trials} mutated payloads, ${rejected} rejected: ${JSON.stringify(Object.fromEntries(byKind))}`);
  t.diagnostic(`codes: ${JSON.stringify(Object.fromEntries(byCode))}`);
  assert.ok(rejected > trials * 0.9, `only ${rejected} of ${trials} mutations were rejected`);
});

test('rans payloads do not depend on the kernel path', { skip: !simdSupported() }, () => {
  const src = skewed(new Rng(8), 10000, 50, 1);
  setKernelPath('reference');
  try {
    const viaRef = ransEncodeBlock(src);
    setKernelPath('wasm-simd');
    assert.deepEqual(ransEncodeBlock(src), viaRef);
  } finally {
    setKernelPath(undefined);
  }
});

test('ransEstimateBytes is within a few bytes of the real payload, and null where encoding is', () => {
  const rng = new Rng(77);
  for (const n of [100, 5000, 65_536, 300_000]) {
    for (const skew of [0.3, 0.9, 0.99]) {
      const src = Uint8Array.from({ length: n }, () => (rng.float() < skew ? rng.int(4) : rng.int(256)));
      for (const scaleBits of [10, 12, 15]) {
        const est = ransEstimateBytes(histogram(src), n, { scaleBits })!;
        const real = ransEncodeBlock(src, { scaleBits }, histogram(src));
        if (!real) continue;
        // The stream ends with states that hold up to 32 bits of the message each.
        assert.ok(Math.abs(real.length - est) <= 4 * (n < 4096 ? 4 : 16) + 2, `n=${n} skew=${skew} scale=${scaleBits}: ${real.length} vs ${est}`);
      }
    }
  }
  assert.equal(ransEstimateBytes(histogram(new Uint8Array(10).fill(3)), 10), null);
});
