import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ProductQuantizer, pqOptionsFromName, lutScan, lutScanReference, nibblePlanes, packFields, getBits, putBits, trainCentroids,
} from '../../src/vectors/codecs/pq.js';
import { deserializeCodec } from '../../src/vectors/codecs/serialize.js';
import { lut8Reference } from '../../src/vectors/codecs/vcodes.js';
import { kmeans } from '../../src/vectors/kmeans.js';
import { BitWriter } from '../../src/core/bits.js';
import { xxh32 } from '../../src/core/checksum.js';
import { ContainerBuilder } from '../../src/core/container.js';
import { isZipmlError } from '../../src/core/errors.js';
import { setKernelPath, simdSupported } from '../../src/kernels/loader.js';
import type { Metric } from '../../src/vectors/types.js';
import { Rng } from '../util/rng.js';
import { fuzzDecoder, bytesEqual } from '../util/mutate.js';
import { gaussian, mixture, decodeThenDistance, assertClose, bothPaths } from './codec-util.js';

const METRICS: Metric[] = ['l2', 'ip', 'cos'];
const isArg = (e: unknown) => isZipmlError(e, 'E_ARG');

function mse(a: Float32Array, b: Float32Array, d: number): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return s / (a.length / d);
}

/** Values k/2^22 − 2 from a 32-bit LCG: exact in f32 and easy to regenerate in Python. */
function lcgData(n: number, d: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n * d);
  for (let i = 0; i < n * d; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s >>> 8) / 16777216) * 4 - 2;
  }
  return out;
}

test('PQ names, sizes and option checks', () => {
  assert.deepEqual(pqOptionsFromName('PQ16'), { M: 16, nbits: 8 });
  assert.deepEqual(pqOptionsFromName('PQ8x4'), { M: 8, nbits: 4 });
  assert.equal(pqOptionsFromName('PQ8x4fs'), undefined);
  for (let nbits = 4; nbits <= 8; nbits++) {
    const pq = new ProductQuantizer(40, { M: 10, nbits });
    assert.equal(pq.codeSize, Math.ceil((10 * nbits) / 8));
    assert.equal(pq.name, `PQ10x${nbits}`);
    assert.equal(pq.dsub, 4);
    assert.equal(pq.ksub, 1 << nbits);
  }
  assert.equal(new ProductQuantizer(32, 'PQ8').codeSize, 8);
  assert.throws(() => new ProductQuantizer(30, 'PQ8'), (e) => isArg(e) && /multiple of M/.test((e as Error).message));
  assert.throws(() => new ProductQuantizer(32, 'PQ8x3'), isArg);
  assert.throws(() => new ProductQuantizer(32, 'PQ8x9'), isArg);
  assert.throws(() => new ProductQuantizer(32, { M: 0 }), isArg);
  assert.throws(() => new ProductQuantizer(32, { M: 64 }), isArg);
  assert.throws(() => new ProductQuantizer(32, 'IVF8'), isArg);
});

test('PQ codes equal Faiss 1.7.3 IndexPQ codes (same data, same defaults)', () => {
  // python3-faiss 1.7.3: IndexPQ(8, 2, nbits).train(x); sa_encode(x) on this very data (LCG values
  // scaled per dimension). Our k-means replays Faiss's random choices, so codebooks and codes agree;
  // the recorded values are xxh32 of the 600 codes and Faiss's total squared error.
  const x = lcgData(600, 8, 42);
  const scale = [3, 1, 0.5, 2, 1, 1, 4, 0.25];
  for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i]! * scale[i % 8]!);
  const golden: Array<[number, number, number]> = [
    [4, 0x063d5e9d, 2576.262451171875],
    [6, 0x389058a5, 998.46875],
  ];
  for (const [nbits, hash, sse] of golden) {
    const pq = new ProductQuantizer(8, { M: 2, nbits });
    pq.train(x);
    const codes = pq.encode(x);
    assert.equal(xxh32(codes), hash, `PQ2x${nbits} codes`);
    const err = mse(x, pq.decode(codes), 8) * 600;
    assert.ok(Math.abs(err - sse) / sse < 1e-5, `PQ2x${nbits} squared error ${err} vs Faiss ${sse}`);
    // Faiss warns about 600 < 39·ksub points; so do we.
    assert.equal(pq.warnings.length, 1);
  }
});

test('PQ code layout is Faiss\'s: LSB-first fields, 4-bit low nibble first', () => {
  const rng = new Rng(5);
  for (const nbits of [4, 5, 6, 7, 8]) {
    const M = 7, n = 9, cs = Math.ceil((M * nbits) / 8);
    const idx = new Int32Array(n * M);
    for (let i = 0; i < idx.length; i++) idx[i] = rng.int(1 << nbits);
    const out = new Uint8Array(n * cs);
    packFields(idx, n, M, nbits, out, cs);
    for (let i = 0; i < n; i++) {
      const w = new BitWriter();
      for (let m = 0; m < M; m++) w.write(idx[i * M + m]!, nbits);
      assert.deepEqual(out.subarray(i * cs, (i + 1) * cs), w.finish(), `nbits ${nbits} row ${i}`);
      for (let m = 0; m < M; m++) assert.equal(getBits(out, i * cs, m * nbits, nbits), idx[i * M + m]);
    }
    if (nbits === 4) assert.equal(out[0], idx[0]! | (idx[1]! << 4));
  }
  const b = new Uint8Array(6);
  putBits(b, 1, 3, 0xdeadbeef, 32);
  assert.equal(getBits(b, 1, 3, 32), 0xdeadbeef);
});

test('PQ round trip: reconstruction improves with bits, re-encoding a decoded code is stable', () => {
  const d = 16, x = mixture(1, 3000, d, 10);
  let prev = Infinity;
  for (const nbits of [4, 6, 8]) {
    const pq = new ProductQuantizer(d, { M: 4, nbits });
    pq.train(x, { niter: 10 });
    const codes = pq.encode(x);
    const e = mse(x, pq.decode(codes), d);
    assert.ok(e < prev, `nbits ${nbits}: mse ${e} not below ${prev}`);
    prev = e;
    assert.ok(bytesEqual(pq.encode(pq.decode(codes)), codes), `nbits ${nbits}: decode -> encode changed codes`);
  }
});

test('PQ distances equal decode-then-distance (l2, ip, cos), both kernel paths', async () => {
  const d = 24, n = 700;
  const x = mixture(2, n, d, 8);
  const q = mixture(3, 3, d, 8);
  for (const nbits of [4, 5, 8]) {
    const pq = new ProductQuantizer(d, { M: 6, nbits });
    pq.train(x, { niter: 8 });
    const codes = pq.encode(x);
    await bothPaths((path) => {
      for (let t = 0; t < 3; t++) {
        const qi = q.subarray(t * d, (t + 1) * d);
        for (const metric of METRICS) {
          const out = new Float32Array(n);
          pq.distances(qi, metric)(codes, n, out);
          assertClose(out, decodeThenDistance(pq, qi, codes, metric), 1e-5, `PQ6x${nbits} ${metric} ${path}`, 1e-6);
        }
      }
    });
  }
});

test('table-scan kernels equal the TS reference bit for bit (lut8 within 1e-5)', { skip: !simdSupported() }, () => {
  const rng = new Rng(9);
  setKernelPath('wasm-simd');
  try {
    for (const nbits of [1, 2, 3, 4, 5, 6, 7, 8, 9, 12]) {
      for (const M of [1, 2, 7, 16, 31, 32, 33, 64]) {
        const cs = Math.ceil((M * nbits) / 8) + (M % 3); // some rows carry extra bytes (RQ norms)
        const n = Math.ceil(5000 / cs) + 7; // crosses the 2 KiB kernel threshold, not a multiple of 16
        const codes = rng.bytes(n * cs);
        const t = new Float32Array(M << nbits);
        for (let i = 0; i < t.length; i++) t[i] = rng.normal() * 10;
        const got = new Float32Array(n), want = new Float32Array(n);
        lutScan(t, codes, n, cs, M, nbits, got);
        lutScanReference(t, codes, n, cs, M, nbits, want);
        if (nbits === 8) {
          lut8Reference(t, codes, n, cs, M, want);
          assertClose(got, want, 1e-5, `lut8 M=${M}`);
        } else {
          assert.deepEqual(got, want, `nbits ${nbits} M=${M}`);
        }
      }
    }
  } finally {
    setKernelPath(undefined);
  }
  // The byte-plane layout pq4Scan reads.
  const t = Float32Array.from({ length: 32 }, (_, i) => i * 1.5 - 7);
  const p = nibblePlanes(t, 2);
  const bytes = new Uint8Array(t.buffer);
  assert.equal(p[64 + 2 * 16 + 5], bytes[(16 + 5) * 4 + 2]);
});

test('PQ training: errors, warnings, progress, abort, hot start', () => {
  const d = 8;
  const pq = new ProductQuantizer(d, 'PQ2x4');
  assert.throws(() => pq.encode(gaussian(1, 4, d)), isArg);
  assert.throws(() => pq.decode(new Uint8Array(3)), isArg);
  assert.throws(() => pq.distances(new Float32Array(d), 'l2'), isArg);
  assert.throws(() => pq.train(gaussian(1, 10, d), { hotStart: true }), isArg);
  // n < ksub is an error (Faiss throws), n < 39·ksub a warning (Faiss prints one).
  assert.throws(() => pq.train(gaussian(1, 15, d)), (e) => isArg(e) && /fewer than the 16 centroids/.test((e as Error).message));
  pq.train(gaussian(1, 16, d));
  assert.equal(pq.warnings.length, 1);
  assert.match(pq.warnings[0]!, /at least 624/);
  pq.train(gaussian(1, 700, d));
  assert.deepEqual(pq.warnings, []);
  const bad = gaussian(1, 100, d);
  bad[17] = NaN;
  assert.throws(() => pq.train(bad), isArg);
  assert.throws(() => pq.train(new Float32Array(7)), isArg);
  assert.throws(() => pq.distances(new Float32Array(d), 'hamming' as Metric), isArg);
  assert.throws(() => pq.distances(new Float32Array(d + 1), 'l2'), isArg);
  const steps: number[] = [];
  pq.train(gaussian(2, 300, d), { onProgress: (done, total) => steps.push(done, total) });
  assert.deepEqual(steps, [1, 2, 2, 2]);
  const ac = new AbortController();
  ac.abort();
  assert.throws(() => pq.train(gaussian(2, 300, d), { signal: ac.signal }), (e) => isZipmlError(e, 'E_ABORTED'));
  // Hot start with zero iterations keeps the centroids; with more, the error does not grow.
  const x = mixture(4, 2000, d, 6);
  pq.train(x, { niter: 2 });
  const before = pq.centroids.slice();
  pq.train(x, { hotStart: true, niter: 0 });
  assert.deepEqual(pq.centroids, before);
  const e0 = mse(x, pq.decode(pq.encode(x)), d);
  pq.train(x, { hotStart: true, niter: 10 });
  assert.ok(mse(x, pq.decode(pq.encode(x)), d) <= e0 * (1 + 1e-6));
});

test('hot-start k-means: equals kmeans() after the same iterations, splits empty clusters', () => {
  const d = 3, k = 8;
  const x = mixture(5, 900, d, 5);
  // kmeans with niter i+j equals kmeans with niter i followed by j hot-started iterations, up to
  // the order of the mean's double sums (kmeans sums in point order, as we do).
  const a = kmeans(x, d, k, { niter: 6 }).centroids;
  const b = trainCentroids(x, d, k, { niter: 4, maxPointsPerCentroid: 256, seed: 1234, init: kmeans(x, d, k, { niter: 2 }).centroids });
  assertClose(b, a, 1e-5, 'hot start continues kmeans');
  // All centroids start on one point: empty clusters are split, nothing is NaN, all distinct.
  const init = new Float32Array(k * d);
  for (let j = 0; j < k; j++) init.set(x.subarray(0, d), j * d);
  const c = trainCentroids(x, d, k, { niter: 5, maxPointsPerCentroid: 256, seed: 1234, init });
  const seen = new Set<string>();
  for (let j = 0; j < k; j++) {
    for (let t = 0; t < d; t++) assert.ok(Number.isFinite(c[j * d + t]!));
    seen.add(Array.from(c.subarray(j * d, (j + 1) * d)).join());
  }
  assert.equal(seen.size, k);
  assert.throws(() => trainCentroids(x, d, k, { niter: 1, maxPointsPerCentroid: 256, seed: 1, init: new Float32Array(5) }), isArg);
});

test('PQ serialization round trips; corrupt containers are rejected', () => {
  const d = 12, x = mixture(6, 400, d, 4);
  const pq = new ProductQuantizer(d, 'PQ3x5');
  const untrained = deserializeCodec(pq.serialize());
  assert.equal(untrained.isTrained, false);
  assert.equal(untrained.name, 'PQ3x5');
  pq.train(x, { niter: 4 });
  const bytes = pq.serialize();
  const back = deserializeCodec(bytes);
  assert.ok(back instanceof ProductQuantizer);
  assert.ok(bytesEqual(back.serialize(), bytes));
  const codes = pq.encode(x);
  assert.ok(bytesEqual(back.encode(x), codes));
  const q = x.subarray(0, d), o1 = new Float32Array(400), o2 = new Float32Array(400);
  pq.distances(q, 'cos')(codes, 400, o1);
  back.distances(q, 'cos')(codes, 400, o2);
  assert.deepEqual(o2, o1);
  const meta = { codec: 'pq', version: 1, d: 12, M: 3, nbits: 5, trained: true };
  const corrupt = (e: unknown) => isZipmlError(e, 'E_CORRUPT');
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', meta)), corrupt);
  assert.throws(() => deserializeCodec(new ContainerBuilder().addSection('centroids', new Uint8Array(16)).finish('vectors.codec', meta)), corrupt);
  const nan = new Float32Array(3 * 32 * 4);
  nan[77] = NaN;
  assert.throws(() => deserializeCodec(new ContainerBuilder().addSection('centroids', new Uint8Array(nan.buffer)).finish('vectors.codec', meta)), corrupt);
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', { ...meta, d: 13, trained: false })), corrupt);
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', { ...meta, nbits: 9, trained: false })), (e) => isZipmlError(e, 'E_LIMIT'));
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', { ...meta, version: 2 })), (e) => isZipmlError(e, 'E_FORMAT'));
  assert.throws(() => deserializeCodec(new ContainerBuilder().addSection('extra', new Uint8Array(4)).finish('vectors.codec', { ...meta, trained: false })), corrupt);
});

test('deserializeCodec fuzz: 10,000 mutations of PQ4x4', () => {
  const pq = new ProductQuantizer(8, 'PQ4x4');
  pq.train(mixture(7, 200, 8, 4), { niter: 3 });
  const valid = pq.serialize();
  const { rejected, accepted } = fuzzDecoder(valid, 10_000, 0x9e11, deserializeCodec, (c) => bytesEqual(c.serialize(), valid));
  assert.equal(rejected + accepted, 10_000);
  assert.ok(rejected > 5_000, `only ${rejected} rejected`);
});
