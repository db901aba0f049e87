import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  HUFFMAN_MAX_BLOCK,
  HUFFMAN_MAX_CODE_LENGTH,
  huffmanCodeLengths,
  huffmanDecodeBlock,
  huffmanDecodeBlockReference,
  huffmanEncodeBlock,
  huffmanEncodeBlockReference,
  huffmanMaxPayload,
  huffmanEstimateBytes,
} from '../../src/core/entropy/huffman.js';
import { entropyBits, histogram } from '../../src/core/entropy/histogram.js';
import { ZipmlError, isZipmlError } from '../../src/core/errors.js';
import { setKernelPath, simdSupported } from '../../src/kernels/loader.js';
import { Rng } from '../util/rng.js';

type Encoder = typeof huffmanEncodeBlock;
type Decoder = typeof huffmanDecodeBlock;

// The public functions pick their path from the loader; pin it so each run tests what it says.
function withPath<T>(path: 'wasm-simd' | 'reference', fn: () => T): T {
  setKernelPath(path);
  try {
    return fn();
  } finally {
    setKernelPath(undefined);
  }
}
const wasmEncode: Encoder = (s, o, h) => withPath('wasm-simd', () => huffmanEncodeBlock(s, o, h));
const wasmDecode: Decoder = (p, d) => withPath('wasm-simd', () => huffmanDecodeBlock(p, d));
const noSimd = !simdSupported();

/** Bytes drawn from a distribution: shape picks uniform-over-k, geometric, or two-level skew. */
function sample(rng: Rng, n: number, shape: number): Uint8Array {
  const out = new Uint8Array(n);
  const k = 2 + rng.int(255);
  const q = 0.5 + rng.float() * 0.45;
  const offset = rng.int(256);
  for (let i = 0; i < n; i++) {
    let v: number;
    if (shape === 0) v = rng.int(k);
    else if (shape === 1) v = Math.min(255, Math.floor(Math.log(1 - rng.float()) / Math.log(q)));
    else v = rng.float() < 0.9 ? rng.int(4) : rng.int(256);
    out[i] = (v + offset) & 255;
  }
  return out;
}

/** Counts following Fibonacci numbers: the distribution with the deepest Huffman tree. */
function fibonacciBlock(symbols: number): Uint8Array {
  const counts: number[] = [1, 1];
  while (counts.length < symbols) counts.push(counts[counts.length - 1]! + counts[counts.length - 2]!);
  const out = new Uint8Array(counts.reduce((a, b) => a + b, 0));
  let at = 0;
  counts.forEach((c, s) => out.fill(s * 7 + 3, at, (at += c)));
  return out;
}

function decodeBoth(payload: Uint8Array, n: number): Uint8Array {
  const ref = new Uint8Array(n);
  huffmanDecodeBlockReference(payload, ref);
  if (!noSimd) {
    const w = new Uint8Array(n);
    wasmDecode(payload, w);
    assert.deepEqual(w, ref, 'wasm and reference decoders disagree');
  }
  return ref;
}

/** Encodes with both paths, requires identical bytes, decodes with both, requires the input. */
function roundTrip(src: Uint8Array, maxCodeLength?: number): Uint8Array | null {
  const opts = maxCodeLength === undefined ? undefined : { maxCodeLength };
  const ref = huffmanEncodeBlockReference(src, opts);
  if (!noSimd) assert.deepEqual(wasmEncode(src, opts), ref, `encoders disagree on a ${src.length}-byte block`);
  if (ref) {
    assert.ok(ref.length < src.length, 'a payload must beat storing raw');
    assert.deepEqual(decodeBoth(ref, src.length), src);
  }
  return ref;
}

/** Code lengths as the decoder reads them back from a payload. */
function payloadLengths(payload: Uint8Array): number[] {
  const lens: number[] = [];
  for (let s = 0; s <= payload[0]!; s++) lens.push((payload[1 + (s >> 1)]! >> ((s & 1) * 4)) & 15);
  return lens;
}

test('round trips skewed random blocks; wasm and reference agree byte for byte', () => {
  const rng = new Rng(1);
  let coded = 0;
  for (let trial = 0; trial < 300; trial++) {
    const n = trial < 200 ? 1 + rng.int(3000) : 1 + rng.int(200_000);
    if (roundTrip(sample(rng, n, trial % 3), 8 + (trial % 5))) coded++;
  }
  assert.ok(coded > 200, `only ${coded} of 300 blocks were coded`);
});

test('edge cases: tiny blocks, one symbol, two symbols, all 256 symbols, uniform bytes', () => {
  assert.equal(roundTrip(new Uint8Array([42])), null, '1 byte');
  assert.equal(roundTrip(new Uint8Array(1000).fill(7)), null, 'one distinct symbol is for RLE');
  assert.equal(roundTrip(new Uint8Array([1, 2])), null, '2 bytes cannot beat raw');
  // Two symbols, 1 bit each: an 11-byte header and 4 streams of at least a byte each, so the
  // smallest block that beats raw has 16 bytes.
  const two = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 5) % 3 === 0 ? 0 : 1);
  assert.equal(roundTrip(two(15)), null);
  for (let n = 16; n < 64; n++) assert.ok(roundTrip(two(n)), `two symbols, ${n} bytes`);
  // Every byte value present, skewed so that coding pays.
  const rng = new Rng(3);
  const all = sample(rng, 50_000, 1);
  for (let s = 0; s < 256; s++) all[s * 100] = s;
  const p = roundTrip(all)!;
  assert.equal(p[0], 255);
  assert.equal(payloadLengths(p).filter((l) => l > 0).length, 256);
  // Uniform random bytes cannot be compressed: null, the caller stores them.
  assert.equal(roundTrip(rng.bytes(10_000)), null);
});

test('sizes around every quarter split, and the largest block', () => {
  const rng = new Rng(4);
  const base = sample(rng, HUFFMAN_MAX_BLOCK, 1);
  for (let n = 16; n < 80; n++) roundTrip(base.subarray(0, n));
  for (const n of [4095, 4096, 4097, 4098, 65535, 65536, 65537, 65538, 65539]) {
    assert.ok(roundTrip(base.subarray(0, n)));
  }
  assert.ok(roundTrip(base));
  assert.throws(() => huffmanEncodeBlock(new Uint8Array(HUFFMAN_MAX_BLOCK + 1)), (e) => isZipmlError(e, 'E_ARG'));
});

test('Fibonacci counts reach every length limit exactly, with a complete prefix code', () => {
  const src = fibonacciBlock(25); // unlimited Huffman depth would be 24
  for (let limit = 8; limit <= HUFFMAN_MAX_CODE_LENGTH; limit++) {
    const lens = payloadLengths(roundTrip(src, limit)!);
    assert.equal(Math.max(...lens), limit);
    const kraft = lens.reduce((k, l) => k + (l ? 2 ** -l : 0), 0);
    assert.equal(kraft, 1, `Kraft sum with limit ${limit}`);
  }
});

test('decoder handles hand-made payloads whose streams are empty (blocks of 1..9 bytes)', () => {
  // Symbols 0 and 1 with 1-bit codes: 0 -> bit 0, 1 -> bit 1. Stream k holds symbols
  // [k*ceil(n/4), (k+1)*ceil(n/4)) of the block; streams past the end are empty (size 0).
  for (let n = 1; n <= 9; n++) {
    const want = Uint8Array.from({ length: n }, (_, i) => (i * 3) & 1);
    const seg = Math.ceil(n / 4);
    const streams: number[][] = [];
    for (let k = 0; k < 4; k++) {
      const syms = Array.from(want.subarray(Math.min(k * seg, n), Math.min((k + 1) * seg, n)));
      streams.push(syms.length ? [syms.reduce((b, s, i) => b | (s << i), 0)] : []);
    }
    const jump = streams.slice(0, 3).flatMap((s) => [s.length, 0, 0]);
    const payload = Uint8Array.from([1, 0x11, ...jump, ...streams.flat()]);
    assert.deepEqual(decodeBoth(payload, n), want, `n=${n}`);
  }
});

test('package-merge gives the optimal length-limited code (brute force on small alphabets)', () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 400; trial++) {
    const m = 2 + rng.int(7);
    const limit = Math.max(Math.ceil(Math.log2(m)), 2 + rng.int(4));
    const hist = new Uint32Array(256);
    const symbols: number[] = [];
    while (symbols.length < m) {
      const s = rng.int(256);
      if (!symbols.includes(s)) symbols.push(s);
    }
    // Half the trials use weights 1..3: many ties, where tie-breaking must stay consistent.
    const ties = trial % 2 === 0;
    for (const s of symbols) hist[s] = ties ? 1 + rng.int(3) : 1 + Math.floor(2 ** (rng.float() * 12));
    const lens = new Uint8Array(256);
    const maxLen = huffmanCodeLengths(hist, limit, lens);
    const cost = symbols.reduce((c, s) => c + hist[s]! * lens[s]!, 0);
    assert.equal(maxLen, Math.max(...symbols.map((s) => lens[s]!)));
    assert.ok(maxLen <= limit);
    assert.equal(symbols.reduce((k, s) => k + 2 ** -lens[s]!, 0), 1);
    // Brute force: the best length vector, lengths non-decreasing as weights decrease.
    const w = symbols.map((s) => hist[s]!).sort((a, b) => b - a);
    let best = Infinity;
    const walk = (i: number, prev: number, kraft: number, c: number): void => {
      if (kraft > 1) return;
      if (i === m) {
        best = Math.min(best, c);
        return;
      }
      for (let l = prev; l <= limit; l++) walk(i + 1, l, kraft + 2 ** -l, c + w[i]! * l);
    };
    walk(0, 1, 0, 0);
    assert.equal(cost, best, `m=${m} limit=${limit}`);
  }
});

test('coded size stays within Gallager\'s bound of the order-0 entropy', () => {
  // Huffman's redundancy is below p_max + 0.086 bits per symbol; the 11-bit limit costs little
  // more. Flat sources (p_max < 0.1) must come within 2%.
  const rng = new Rng(6);
  for (let trial = 0; trial < 30; trial++) {
    const src = sample(rng, 100_000, trial % 3);
    const hist = histogram(src);
    const bound = entropyBits(hist) / 8;
    const pMax = Math.max(...hist) / src.length;
    const p = roundTrip(src);
    if (!p) continue;
    const header = 1 + 128 + 9 + 4;
    assert.ok(p.length <= bound + (src.length * (pMax + 0.086)) / 8 + header, `coded ${p.length} vs ${bound}`);
    if (pMax < 0.1) assert.ok(p.length < bound * 1.02 + header, `coded ${p.length} vs order-0 ${bound}`);
  }
});

test('a caller-supplied histogram gives the same payload; a wrong one is an E_ARG', () => {
  const rng = new Rng(7);
  const src = sample(rng, 20_000, 1);
  const hist = histogram(src);
  const want = huffmanEncodeBlockReference(src)!;
  assert.deepEqual(huffmanEncodeBlockReference(src, undefined, hist), want);
  if (!noSimd) assert.deepEqual(wasmEncode(src, undefined, hist), want);
  // Right total, but a byte that occurs is missing from it.
  const present = src[0]!;
  const bad = hist.slice();
  bad[(present + 1) & 255]! += bad[present]!;
  bad[present] = 0;
  const isArg = (e: unknown) => isZipmlError(e, 'E_ARG');
  assert.throws(() => huffmanEncodeBlockReference(src, undefined, bad), isArg);
  if (!noSimd) assert.throws(() => wasmEncode(src, undefined, bad), isArg);
  assert.throws(() => huffmanEncodeBlock(src, undefined, new Uint32Array(256)), isArg);
  assert.throws(() => huffmanEncodeBlock(src, { maxCodeLength: 7 }), isArg);
  assert.throws(() => huffmanEncodeBlock(src, { maxCodeLength: 13 }), isArg);
  assert.throws(() => huffmanEncodeBlock(new Uint8Array(0)), isArg);
  assert.throws(() => huffmanDecodeBlock(want, new Uint8Array(0)), isArg);
});

/** Runs a decoder; returns its output or its ZipmlError. Any other exception fails the test. */
function attempt(decode: Decoder, payload: Uint8Array, n: number): Uint8Array | ZipmlError {
  const out = new Uint8Array(n);
  try {
    decode(payload, out);
    return out;
  } catch (e) {
    if (e instanceof ZipmlError) return e;
    throw new Error(`decoder threw a non-ZipmlError: ${String(e)}`);
  }
}

/** Both decoders on one payload: they must agree on the output or on the exact error. */
function attemptBoth(payload: Uint8Array, n: number): Uint8Array | ZipmlError {
  const ref = attempt(huffmanDecodeBlockReference, payload, n);
  if (!noSimd) {
    const w = attempt(wasmDecode, payload, n);
    if (ref instanceof ZipmlError || w instanceof ZipmlError) {
      assert.equal(String(w), String(ref), 'decoders report different errors');
    } else {
      assert.deepEqual(w, ref, 'decoders return different bytes');
    }
  }
  return ref;
}

test('each structural check has its error code', () => {
  const rng = new Rng(8);
  const src = sample(rng, 5000, 1);
  const good = huffmanEncodeBlockReference(src)!;
  const n = src.length;
  const tableBytes = (good[0]! + 2) >> 1;
  const jump = 1 + tableBytes;
  const expect = (payload: Uint8Array, code: string, what: RegExp, len = n) => {
    const r = attemptBoth(payload, len);
    assert.ok(r instanceof ZipmlError, `expected ${code} for ${what}`);
    assert.equal(r.code, code);
    assert.match(r.message, what);
  };
  const edit = (f: (p: Uint8Array) => void) => {
    const p = good.slice();
    f(p);
    return p;
  };
  expect(new Uint8Array(0), 'E_TRUNCATED', /header/);
  expect(good.subarray(0, jump + 8), 'E_TRUNCATED', /header/);
  expect(edit((p) => (p[1] = 0xdd)), 'E_CORRUPT', /code length 13/);
  expect(edit((p) => (p[1] = p[1]! ^ 0x01)), 'E_CORRUPT', /Kraft|length/);
  expect(edit((p) => (p[jump + 8] = 0xff)), 'E_TRUNCATED', /jump table/);
  expect(edit((p) => (p[jump] = p[jump]! + 1)), 'E_CORRUPT', /stream 0/);
  expect(good.subarray(0, good.length - 1), 'E_CORRUPT', /stream 3/);
  expect(Uint8Array.from([...good, 0]), 'E_CORRUPT', /stream 3/);
  expect(new Uint8Array(huffmanMaxPayload(n) + 1), 'E_CORRUPT', /bound/);
  // Tiny blocks over symbols {0, 1} with 1-bit codes. For n = 1 only stream 0 has a symbol.
  const sizes = (z0: number) => [z0, 0, 0, 0, 0, 0, 0, 0, 0];
  expect(Uint8Array.from([1, 0x11, ...sizes(1), 0b11]), 'E_CORRUPT', /padding bits/, 1);
  expect(Uint8Array.from([1, 0x11, ...sizes(1), 0, 0]), 'E_CORRUPT', /stream 3 .* do not end/, 1);
  expect(Uint8Array.from([2, 0x11, 0x10, ...sizes(1), 0]), 'E_CORRUPT', /unused last nibble/, 1);
  expect(Uint8Array.from([2, 0x11, 0x00, ...sizes(1), 0]), 'E_CORRUPT', /largest symbol 2/, 1);
  // n = 5: stream 0 has 2 symbols but declares 0 bytes.
  expect(Uint8Array.from([1, 0x11, ...sizes(0), 0]), 'E_CORRUPT', /stream 0 .* runs out/, 5);
});

test('fuzz: 12,000 mutated payloads give a ZipmlError or the right bytes, the same on both paths', (t) => {
  const rng = new Rng(9);
  const bases: Uint8Array[] = [];
  while (bases.length < 60) {
    const b = sample(rng, 20 + rng.int(4000), bases.length % 3);
    if (huffmanEncodeBlockReference(b)) bases.push(b);
  }
  const stats = { runs: 0, errors: 0, exact: 0, silent: 0 };
  const silentByKind = [0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 12_000; i++) {
    const src = bases[i % bases.length]!;
    const good = huffmanEncodeBlockReference(src, { maxCodeLength: 8 + (i % 5) })!;
    const headerEnd = 1 + ((good[0]! + 2) >> 1) + 9;
    let p = good.slice();
    let n = src.length;
    // Strict mutations are detectable by construction (docs/huffman.md, "Validation").
    let strict = true;
    let inStreams = false;
    switch (i % 7) {
      case 0:
      case 1: {
        // 1-3 bit flips anywhere.
        const flips = 1 + rng.int(3);
        for (let f = 0; f < flips; f++) {
          const at = rng.int(p.length);
          p[at]! ^= 1 << rng.int(8);
          inStreams ||= at >= headerEnd;
        }
        strict = false;
        break;
      }
      case 2:
        p = p.subarray(0, rng.int(p.length));
        break;
      case 3:
        p = Uint8Array.from([...p, ...rng.bytes(1 + rng.int(16))]);
        break;
      case 4: {
        // One jump-table size field: a nearby or an arbitrary value.
        const at = headerEnd - 9 + 3 * rng.int(3);
        const old = p[at]! | (p[at + 1]! << 8) | (p[at + 2]! << 16);
        let v = rng.float() < 0.5 ? old + rng.int(9) - 4 : rng.int(1 << 24);
        if (v === old || v < 0) v = old + 1;
        p[at] = v & 255;
        p[at + 1] = (v >> 8) & 255;
        p[at + 2] = (v >> 16) & 255;
        break;
      }
      case 5: {
        // One nibble of the length table, or the largest-symbol byte (not strict: a shifted
        // table can, in principle, still read as a complete code).
        if (rng.float() < 0.8) {
          const nib = rng.int((good[0]! + 2) & ~1);
          const shift = (nib & 1) * 4;
          const at = 1 + (nib >> 1);
          const old = (p[at]! >> shift) & 15;
          const v = (old + 1 + rng.int(15)) & 15;
          p[at] = (p[at]! & ~(15 << shift)) | (v << shift);
        } else {
          p[0] = rng.int(256);
          strict = p[0] === good[0];
        }
        break;
      }
      default:
        // The caller's decoded size is off: not detectable in every case (a longer block can
        // read zero padding bits as extra codes), so only non-strict.
        n = Math.max(1, n + (rng.float() < 0.5 ? -1 : 1) * (1 + rng.int(4)));
        strict = false;
    }
    const r = attemptBoth(p, n);
    stats.runs++;
    if (r instanceof ZipmlError) {
      stats.errors++;
      assert.ok(['E_CORRUPT', 'E_TRUNCATED'].includes(r.code), `unexpected code ${r.code}`);
      assert.ok(r.message.length > 20 && r.offset !== undefined, 'error must say what and where');
    } else if (n === src.length && r.every((v, j) => v === src[j])) {
      stats.exact++;
    } else {
      stats.silent++;
      silentByKind[i % 7]!++;
      assert.ok(!strict, `mutation ${i % 7} (iteration ${i}) decoded to wrong bytes without an error`);
      if (i % 7 < 2) assert.ok(inStreams, 'a flip outside the streams must not go unnoticed');
    }
  }
  t.diagnostic(JSON.stringify({ ...stats, silentByKind }));
  assert.equal(stats.runs, 12_000);
});

test('huffmanEstimateBytes is the payload size to within the 3 bytes of stream rounding', () => {
  const rng = new Rng(78);
  for (const n of [50, 4097, 65_536, 200_001]) {
    for (const skew of [0.2, 0.8, 0.97]) {
      const src = Uint8Array.from({ length: n }, () => (rng.float() < skew ? rng.int(3) : rng.int(256)));
      const est = huffmanEstimateBytes(histogram(src), n);
      const real = huffmanEncodeBlock(src);
      if (real === null || est === null) {
        assert.equal(real, null, `n=${n} skew=${skew}: estimate null, payload not`);
        continue;
      }
      assert.ok(real.length - est >= 0 && real.length - est <= 3, `n=${n} skew=${skew}: ${real.length} vs ${est}`);
    }
  }
  assert.equal(huffmanEstimateBytes(histogram(new Uint8Array(10).fill(3)), 10), null);
});
