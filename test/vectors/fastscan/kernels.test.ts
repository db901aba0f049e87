import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../util/rng.js';
import { setKernelPath, simdSupported } from '../../../src/kernels/loader.js';
import { packFastScan, unpackFastScan, appendFastScan, fsBlocks, fsBlockBytes, fsCode, fsM2, type FastScanPacked } from '../../../src/vectors/fastscan/layout.js';
import { quantizeLut, quantizeLuts, lutApprox, lutKey, lutLimit, lutErrorBound, lutSums } from '../../../src/vectors/fastscan/lut.js';
import { BlockScanner, fsAccumulateReference, fsScanReference, fsBoundsReference, SCAN_CAPACITY, FS_FACTORS_PER_BLOCK } from '../../../src/vectors/fastscan/kernels.js';
import { lutScanReference } from '../../../src/vectors/codecs/pq.js';

const skip = !simdSupported();

/** n rows of random 4-bit codes for M sub-quantizers, `stride` bytes apart (odd M: high nibble of the last byte random too). */
function randomCodes(rng: Rng, n: number, M: number, stride = (M + 1) >> 1): Uint8Array {
  return rng.bytes(n * stride);
}

function withPath(path: 'wasm-simd' | 'reference', fn: () => void): void {
  setKernelPath(path);
  try {
    fn();
  } finally {
    setKernelPath(undefined);
  }
}

test('pack / unpack round trip, padding and append', () => {
  const rng = new Rng(11);
  for (const M of [1, 2, 3, 8, 15, 16, 33, 64]) {
    for (const n of [0, 1, 31, 32, 33, 100]) {
      const cs = (M + 1) >> 1, stride = cs + 3;
      const codes = randomCodes(rng, n, M, stride);
      const { packed, nblocks } = packFastScan(codes, n, M, stride);
      assert.equal(nblocks, fsBlocks(n));
      assert.equal(packed.length, nblocks * 16 * fsM2(M));
      const back = unpackFastScan(packed, n, M);
      for (let i = 0; i < n; i++) {
        for (let m = 0; m < M; m++) {
          const b = codes[i * stride + (m >> 1)]!;
          const want = m & 1 ? b >> 4 : b & 15;
          assert.equal(fsCode(packed, M, i, m), want, `M=${M} n=${n} row ${i} sub ${m}`);
        }
        // Odd M: the padding nibble is written as 0.
        for (let p = 0; p < cs; p++) assert.equal(back[i * cs + p], p === cs - 1 && M & 1 ? codes[i * stride + p]! & 15 : codes[i * stride + p]);
      }
      // Padding rows of the last block are zero.
      for (let r = n; r < nblocks * 32; r++) for (let m = 0; m < M; m++) assert.equal(fsCode(packed, M, r, m), 0);
      // Appending in pieces gives the same bytes as packing at once.
      let acc: FastScanPacked = { packed: new Uint8Array(0), nblocks: 0 };
      let have = 0;
      for (const piece of [1, 7, 40, 1000]) {
        const take = Math.min(piece, n - have);
        acc = appendFastScan(acc.packed, have, codes.subarray(have * stride), take, M, stride);
        have += take;
      }
      assert.deepEqual(acc.packed.subarray(0, packed.length), packed);
      assert.ok(acc.packed.subarray(packed.length).every((v) => v === 0));
    }
  }
});

test('append writes in place while capacity lasts', () => {
  const rng = new Rng(12);
  const M = 16;
  const first = appendFastScan(new Uint8Array(0), 0, randomCodes(rng, 40, M), 40, M);
  assert.equal(first.packed.length, 2 * fsBlockBytes(M));
  const second = appendFastScan(first.packed, 40, randomCodes(rng, 20, M), 20, M);
  assert.equal(second.packed, first.packed, 'rows 40..59 fit the second block');
  const third = appendFastScan(second.packed, 60, randomCodes(rng, 10, M), 10, M);
  assert.notEqual(third.packed, second.packed);
  assert.equal(third.packed.length, 4 * fsBlockBytes(M), 'capacity doubles');
});

test('quantized tables: range, bias, error bound, ip negation, shared scale and limits', () => {
  const rng = new Rng(13);
  for (const M of [1, 7, 16, 64, 256]) {
    for (const metric of ['l2', 'ip'] as const) {
      const t = new Float32Array(M * 16);
      for (let i = 0; i < t.length; i++) t[i] = metric === 'l2' ? 3 * rng.float() ** 2 + i % 3 : rng.normal();
      const q = quantizeLut(t, M, metric);
      assert.equal(q.lut.length, fsM2(M) * 16);
      assert.ok(q.lut.some((v) => v === 255), 'the widest table spans 0..255');
      const n = 300, cs = (M + 1) >> 1;
      const codes = randomCodes(rng, n, M);
      if (M & 1) for (let i = 0; i < n; i++) codes[i * cs + cs - 1]! &= 15;
      const exact = new Float32Array(n), sums = new Uint32Array(n);
      lutScanReference(t, codes, n, cs, M, 4, exact);
      lutSums(q, codes, n, cs, sums);
      const bound = lutErrorBound(q);
      for (let i = 0; i < n; i++) {
        assert.ok(sums[i]! <= 255 * M);
        const err = Math.abs(lutApprox(q, sums[i]!) - exact[i]!);
        assert.ok(err <= bound * (1 + 1e-9) + 1e-4 * Math.abs(exact[i]!), `M=${M} ${metric} row ${i}: error ${err} > bound ${bound}`);
        assert.equal(lutKey(q, sums[i]!), metric === 'ip' ? -lutApprox(q, sums[i]!) : lutApprox(q, sums[i]!));
      }
      // Limits never exclude a sum whose key is below the threshold.
      for (let trial = 0; trial < 200; trial++) {
        const key = lutKey(q, rng.int(255 * M + 1)) + (rng.float() - 0.5) / q.scale;
        const lim = lutLimit(q, key);
        for (const s of [lim + 1, lim + 2]) if (s <= 65535) assert.ok(!(lutKey(q, s) < key), `limit ${lim} drops sum ${s}`);
      }
      assert.equal(lutLimit(q, Infinity), 65535);
      assert.equal(lutLimit(q, -Infinity), -1);
    }
  }
  // One scale for several tables; each keeps its own bias.
  const tabs = [0, 1, 2].map((s) => Float32Array.from({ length: 8 * 16 }, (_, i) => (s + 1) * Math.sin(i + s)));
  const qs = quantizeLuts(tabs, 8, 'l2');
  assert.ok(qs.every((q) => q.scale === qs[0]!.scale));
  assert.equal(qs[0]!.scale, quantizeLut(tabs[2]!, 8, 'l2').scale, 'the widest table sets the scale');
  assert.notEqual(qs[0]!.bias, qs[1]!.bias);
});

/** Random uint8 tables over the full byte range (sums up to 255·M exercise the uint16 bound). */
function randomLut(rng: Rng, M: number, full: boolean): Uint8Array {
  const lut = new Uint8Array(fsM2(M) * 16);
  for (let i = 0; i < M * 16; i++) lut[i] = full ? 255 - rng.int(4) : rng.int(256);
  return lut;
}

test('fsAccumulate kernel equals its reference exactly, and the row-major sums', { skip }, () => {
  const rng = new Rng(14);
  for (const M of [1, 2, 5, 8, 16, 31, 64, 256]) {
    for (const n of [1, 32, 77, 2100]) {
      for (const full of [false, true]) {
        const lut = randomLut(rng, M, full);
        const codes = randomCodes(rng, n, M);
        const cs = (M + 1) >> 1;
        if (M & 1) for (let i = 0; i < n; i++) codes[i * cs + cs - 1]! &= 15;
        const { packed, nblocks } = packFastScan(codes, n, M);
        const want = new Uint16Array(nblocks * 32);
        fsAccumulateReference(lut, packed, 0, nblocks, M, want);
        const got = new Uint16Array(n);
        withPath('wasm-simd', () => new BlockScanner(lut, packed, n, M).accumulate(got));
        assert.deepEqual(got, want.subarray(0, n), `M=${M} n=${n}`);
        const rowMajor = new Uint32Array(n);
        lutSums({ lut, M, metric: 'l2', bias: 0, scale: 1 }, codes, n, cs, rowMajor);
        assert.deepEqual(Array.from(got), Array.from(rowMajor), `row-major M=${M} n=${n}`);
        const ref = new Uint16Array(n);
        withPath('reference', () => new BlockScanner(lut, packed, n, M).accumulate(ref));
        assert.deepEqual(ref, got);
      }
    }
  }
});

test('fsScan kernel equals its reference exactly (candidates, counts, resume points)', { skip }, () => {
  const rng = new Rng(15);
  for (const M of [2, 8, 15, 32, 256]) {
    const n = 5000 + rng.int(31);
    const lut = randomLut(rng, M, M === 256);
    const codes = randomCodes(rng, n, M);
    const { packed, nblocks } = packFastScan(codes, n, M);
    const all = new Uint16Array(nblocks * 32);
    fsAccumulateReference(lut, packed, 0, nblocks, M, all);
    const sorted = Array.from(all.subarray(0, n)).sort((a, b) => a - b);
    for (const limit of [-1, 0, sorted[10]!, sorted[n >> 3]!, sorted[n - 1]!, 65535]) {
      const wasm = withPathScan('wasm-simd', lut, packed, n, M, limit);
      const ref = withPathScan('reference', lut, packed, n, M, limit);
      assert.deepEqual(wasm, ref, `M=${M} limit ${limit}`);
      const expect = [];
      for (let r = 0; r < n; r++) if (all[r]! <= limit) expect.push(r);
      assert.deepEqual(wasm.rows, expect);
      assert.ok(wasm.calls >= Math.ceil(expect.length / SCAN_CAPACITY));
    }
    // The reference stops where the kernel does.
    const rows = new Int32Array(SCAN_CAPACITY), sums = new Uint16Array(SCAN_CAPACITY);
    const r = fsScanReference(lut, packed, 3, nblocks, M, n, 65535, rows, sums, SCAN_CAPACITY);
    assert.equal(r.next, 3 + Math.floor((SCAN_CAPACITY - 32) / 32) + 1);
  }
});

function withPathScan(path: 'wasm-simd' | 'reference', lut: Uint8Array, packed: Uint8Array, n: number, M: number, limit: number): { rows: number[]; sums: number[]; calls: number } {
  const rows: number[] = [], sums: number[] = [];
  let calls = 0;
  withPath(path, () => {
    const s = new BlockScanner(lut, packed, n, M);
    for (let b = 0; b < s.nblocks; b = s.next) {
      s.scan(b, s.nblocks, limit);
      calls++;
      for (let i = 0; i < s.count; i++) {
        rows.push(s.rows[i]!);
        sums.push(s.sums[i]!);
      }
      if (limit < 0) break;
    }
  });
  return { rows, sums, calls };
}

test('fsBounds kernel equals its reference bit for bit', { skip }, () => {
  const rng = new Rng(16);
  for (const M of [3, 16, 32]) {
    for (const n of [5, 1000, 40000]) {
      const lut = randomLut(rng, M, false);
      const { packed, nblocks } = packFastScan(randomCodes(rng, n, M), n, M);
      const factors = Float32Array.from({ length: nblocks * FS_FACTORS_PER_BLOCK }, () => rng.normal() * 3);
      const consts = Float32Array.from({ length: 8 }, () => rng.normal());
      const lo = new Float32Array(n), up = new Float32Array(n), lo2 = new Float32Array(n), up2 = new Float32Array(n);
      withPath('wasm-simd', () => new BlockScanner(lut, packed, n, M).bounds(factors, consts, lo, up));
      const wl = new Float32Array(nblocks * 32), wu = new Float32Array(nblocks * 32);
      fsBoundsReference(lut, packed, factors, 0, nblocks, M, consts, wl, wu);
      assert.deepEqual(lo, wl.subarray(0, n), `lower M=${M} n=${n}`);
      assert.deepEqual(up, wu.subarray(0, n), `upper M=${M} n=${n}`);
      withPath('reference', () => new BlockScanner(lut, packed, n, M).bounds(factors, consts, lo2, up2));
      assert.deepEqual(lo2, lo);
      assert.deepEqual(up2, up);
    }
  }
});

test('bad arguments give E_ARG', () => {
  const isArg = (e: unknown): boolean => (e as { code?: string }).code === 'E_ARG';
  assert.throws(() => packFastScan(new Uint8Array(10), 3, 8), isArg, 'codes too short');
  assert.throws(() => packFastScan(new Uint8Array(10), 1, 0), isArg, 'M = 0');
  assert.throws(() => packFastScan(new Uint8Array(1000), 1, 257), isArg, 'M above 256');
  assert.throws(() => packFastScan(new Uint8Array(10), 2, 8, 3), isArg, 'stride below the code size');
  assert.throws(() => unpackFastScan(new Uint8Array(100), 40, 8), isArg, 'packed too short');
  assert.throws(() => appendFastScan(new Uint8Array(100), 40, new Uint8Array(4), 1, 8), isArg, 'existing rows beyond the buffer');
  assert.throws(() => quantizeLut(new Float32Array(16).fill(NaN), 1), isArg, 'NaN table');
  assert.throws(() => quantizeLut(new Float32Array(15), 1), isArg, 'short table');
  const lut = new Uint8Array(16 * 8);
  assert.throws(() => new BlockScanner(lut, new Uint8Array(100), 40, 8), isArg, 'short list');
  assert.throws(() => new BlockScanner(new Uint8Array(8), new Uint8Array(128), 32, 8), isArg, 'short table');
  const s = new BlockScanner(lut, new Uint8Array(128), 32, 8);
  assert.throws(() => s.scan(0, 2, 10), isArg, 'blocks past the list');
  assert.throws(() => s.scan(-1, 1, 10), isArg, 'negative block');
  assert.throws(() => s.accumulate(new Uint16Array(3)), isArg, 'short output');
});
