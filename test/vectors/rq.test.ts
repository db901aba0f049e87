import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResidualQuantizer, rqOptionsFromName } from '../../src/vectors/codecs/rq.js';
import { getBits } from '../../src/vectors/codecs/pq.js';
import { deserializeCodec } from '../../src/vectors/codecs/serialize.js';
import { kmeans } from '../../src/vectors/kmeans.js';
import { ContainerBuilder } from '../../src/core/container.js';
import { isZipmlError } from '../../src/core/errors.js';
import type { Metric } from '../../src/vectors/types.js';
import { fuzzDecoder, bytesEqual } from '../util/mutate.js';
import { gaussian, mixture, decodeThenDistance, assertClose, bothPaths } from './codec-util.js';

const METRICS: Metric[] = ['l2', 'ip', 'cos'];
const isArg = (e: unknown) => isZipmlError(e, 'E_ARG');

function mse(x: Float32Array, y: Float32Array, d: number): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i]! - y[i]!) ** 2;
  return s / (x.length / d);
}

test('RQ names and honest code sizes (codes + norm field)', () => {
  assert.deepEqual(rqOptionsFromName('RQ8x8'), { M: 8, nbits: 8, norm: 'none' });
  assert.deepEqual(rqOptionsFromName('RQ4x6_Nqint8'), { M: 4, nbits: 6, norm: 'qint8' });
  assert.equal(rqOptionsFromName('RQ4x6_Ncqint8'), undefined);
  assert.equal(rqOptionsFromName('RQ8'), undefined);
  const sizes: Array<[string, number]> = [['RQ8x8', 8], ['RQ8x8_Nqint8', 9], ['RQ8x8_Nfloat', 12], ['RQ8x8_Nqint4', 9], ['RQ3x5_Nqint4', 3], ['RQ2x4_Nqint8', 2], ['RQ3x4_Nqint4', 2]];
  for (const [name, size] of sizes) {
    const rq = new ResidualQuantizer(16, name);
    assert.equal(rq.codeSize, size, name);
    assert.equal(rq.name, name);
  }
  const def = new ResidualQuantizer(16, { M: 4 });
  assert.equal(def.name, 'RQ4x8_Nqint8');
  assert.equal(def.maxBeamSize, 5);
  assert.throws(() => new ResidualQuantizer(16, 'RQ0x8'), isArg);
  assert.throws(() => new ResidualQuantizer(16, 'RQ4x13'), isArg);
  assert.throws(() => new ResidualQuantizer(16, { M: 4, maxBeamSize: 0 }), isArg);
  assert.throws(() => new ResidualQuantizer(16, { M: 4, norm: 'cq' as 'float' }), isArg);
  assert.throws(() => new ResidualQuantizer(16, 'PQ4'), isArg);
});

test('RQ: beam search of 5 reconstructs better than greedy encoding (beam 1)', () => {
  const d = 16, x = mixture(1, 2000, d, 12), base = mixture(2, 800, d, 12);
  const errs = [1, 5].map((beam) => {
    const rq = new ResidualQuantizer(d, { M: 4, nbits: 5, norm: 'none', maxBeamSize: beam });
    rq.train(x);
    return mse(base, rq.decode(rq.encode(base)), d);
  });
  assert.ok(errs[1]! < 0.97 * errs[0]!, `beam 5 mse ${errs[1]} vs beam 1 ${errs[0]}`);
});

test('RQ stage 1 is k-means; one stage encodes to the nearest codeword', () => {
  const d = 6, K = 16, x = mixture(3, 900, d, 5);
  const rq = new ResidualQuantizer(d, { M: 1, nbits: 4, norm: 'float' });
  rq.train(x, { trainType: 'kmeans' });
  // Faiss's RQ k-means parameters: 10 iterations, 256 points per centroid, seed 1234.
  assert.deepEqual(rq.codebooks, kmeans(x, d, K, { niter: 10 }).centroids);
  const y = rq.decode(rq.encode(x));
  for (let i = 0; i < 900; i++) {
    let best = Infinity;
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let t = 0; t < d; t++) s += (x[i * d + t]! - rq.codebooks[k * d + t]!) ** 2;
      best = Math.min(best, s);
    }
    let got = 0;
    for (let t = 0; t < d; t++) got += (x[i * d + t]! - y[i * d + t]!) ** 2;
    assert.ok(got <= best * (1 + 1e-5) + 1e-6, `row ${i}: ${got} vs nearest ${best}`);
  }
});

test('RQ: each stage lowers the error; progressive-dimension training works as well as k-means', () => {
  const d = 32, x = mixture(4, 2500, d, 20);
  const errs: Record<string, number> = {};
  for (const trainType of ['progressive', 'kmeans'] as const) {
    const rq = new ResidualQuantizer(d, { M: 3, nbits: 6, norm: 'none' });
    rq.train(x, { trainType });
    errs[trainType] = mse(x, rq.decode(rq.encode(x)), d);
    // Dropping the last stages (zeroing their codes would change the sum; re-encode with fewer):
    const prefix = new ResidualQuantizer(d, { M: 1, nbits: 6, norm: 'none' });
    prefix.setParams(rq.codebooks.slice(0, 64 * d), 0, 0);
    assert.ok(errs[trainType]! < mse(x, prefix.decode(prefix.encode(x)), d));
  }
  assert.ok(errs.progressive! < 1.05 * errs.kmeans!, `progressive ${errs.progressive} vs kmeans ${errs.kmeans}`);
});

test('RQ distances: exact with a float norm or none, within the norm step with qint8 / qint4', async () => {
  const d = 20, n = 500;
  const x = mixture(5, n, d, 8), q = mixture(6, 2, d, 8);
  for (const [name, nbits] of [['RQ3x8', 8], ['RQ3x4_Nfloat', 4], ['RQ4x5_Nqint8', 5], ['RQ3x6_Nqint4', 6]] as const) {
    const rq = new ResidualQuantizer(d, name);
    rq.train(x, { niter: 5, progressiveDimSteps: 3 });
    assert.equal(rq.nbits, nbits);
    const codes = rq.encode(x);
    const step = rq.norm === 'qint8' ? (rq.normMax - rq.normMin) / 256 : rq.norm === 'qint4' ? (rq.normMax - rq.normMin) / 16 : 0;
    await bothPaths((path) => {
      for (let t = 0; t < 2; t++) {
        const qi = q.subarray(t * d, (t + 1) * d);
        for (const metric of METRICS) {
          const out = new Float32Array(n);
          rq.distances(qi, metric)(codes, n, out);
          const want = decodeThenDistance(rq, qi, codes, metric);
          if (metric === 'ip' || step === 0) {
            assertClose(out, want, 2e-5, `${name} ${metric} ${path}`, 1e-5);
          } else if (metric === 'l2') {
            // ‖q − x̂‖² = ‖q‖² + ‖x̂‖² − 2⟨q, x̂⟩: only the norm term is quantized.
            assertClose(out, want, 2e-5, `${name} l2 ${path}`, step / 2 + 1e-4);
          } else {
            const norms = rq.decode(codes);
            for (let i = 0; i < n; i++) {
              let xn = 0;
              for (let j = 0; j < d; j++) xn += norms[i * d + j]! ** 2;
              // cos scales by ‖x̂‖/‖x̂‖_q = 1 + O(step / (2‖x̂‖²)).
              const rel = step / 2 / Math.max(xn - step, 1e-9);
              assert.ok(Math.abs(out[i]! - want[i]!) <= rel * Math.abs(want[i]!) + 1e-5, `${name} cos ${path} row ${i}`);
            }
          }
        }
      }
    });
  }
});

test('RQ norm field: after the codes, Faiss\'s qint encoding', () => {
  const d = 8, x = mixture(7, 400, d, 4);
  const rq = new ResidualQuantizer(d, 'RQ3x5_Nqint8');
  rq.train(x, { niter: 4, progressiveDimSteps: 2 });
  const codes = rq.encode(x.subarray(0, 10 * d));
  const y = rq.decode(codes);
  for (let i = 0; i < 10; i++) {
    let nrm = 0;
    for (let t = 0; t < d; t++) nrm += y[i * d + t]! ** 2;
    const field = getBits(codes, i * rq.codeSize, 15, 8);
    // Faiss: ⌊(v − min)/(max − min)·256⌋ clamped to 0..255.
    const want = Math.min(255, Math.max(0, Math.floor(((nrm - rq.normMin) / (rq.normMax - rq.normMin)) * 256)));
    assert.ok(Math.abs(field - want) <= 1, `row ${i}: field ${field} vs ${want}`);
    assert.ok(Math.abs(rq.decodeNorm(field) - nrm) <= (rq.normMax - rq.normMin) / 256, `row ${i}: decoded norm`);
  }
  // Unused high bits of the last byte stay zero: 15 + 8 = 23 bits in 3 bytes.
  for (let i = 0; i < 10; i++) assert.equal(codes[i * 3 + 2]! >> 7, 0);
  assert.equal(rq.encodeNorm(rq.normMax * 2), 255);
  assert.equal(rq.encodeNorm(-1), 0);
});

test('RQ errors: too few vectors, untrained use, bad input', () => {
  const d = 8;
  const rq = new ResidualQuantizer(d, 'RQ2x6_Nfloat');
  assert.throws(() => rq.train(gaussian(1, 63, d)), (e) => isArg(e) && /fewer than the 64 centroids/.test((e as Error).message));
  assert.throws(() => rq.encode(gaussian(1, 3, d)), isArg);
  assert.throws(() => rq.decode(new Uint8Array(rq.codeSize)), isArg);
  assert.throws(() => rq.distances(new Float32Array(d), 'ip'), isArg);
  rq.train(gaussian(1, 64, d), { niter: 2, progressiveDimSteps: 2 });
  assert.equal(rq.warnings.length, 1);
  assert.throws(() => rq.train(gaussian(1, 100, d), { trainType: 'lsq' as 'kmeans' }), isArg);
  assert.throws(() => rq.train(gaussian(1, 100, d), { progressiveDimSteps: 0 }), isArg);
  assert.throws(() => rq.decode(new Uint8Array(rq.codeSize + 1)), isArg);
  assert.throws(() => rq.setParams(rq.codebooks, 3, 2), isArg);
  const bad = gaussian(1, 100, d);
  bad[5] = Infinity;
  assert.throws(() => rq.train(bad), isArg);
  const ac = new AbortController();
  ac.abort();
  assert.throws(() => rq.train(gaussian(1, 100, d), { signal: ac.signal }), (e) => isZipmlError(e, 'E_ABORTED'));
});

function trainedRQ(name: string): ResidualQuantizer {
  const rq = new ResidualQuantizer(6, name);
  rq.train(mixture(8, 200, 6, 4), { niter: 3, progressiveDimSteps: 2 });
  return rq;
}

test('RQ serialization round trips; corrupt containers are rejected', () => {
  assert.equal(deserializeCodec(new ResidualQuantizer(6, 'RQ2x4').serialize()).isTrained, false);
  for (const name of ['RQ3x4_Nqint8', 'RQ2x5_Nfloat', 'RQ2x4']) {
    const rq = trainedRQ(name);
    const bytes = rq.serialize();
    const back = deserializeCodec(bytes);
    assert.ok(back instanceof ResidualQuantizer);
    assert.equal(back.name, name);
    assert.ok(bytesEqual(back.serialize(), bytes));
    const x = mixture(9, 40, 6, 4);
    const codes = rq.encode(x);
    assert.ok(bytesEqual(back.encode(x), codes));
    const a = new Float32Array(40), b = new Float32Array(40);
    rq.distances(x.subarray(0, 6), 'l2')(codes, 40, a);
    back.distances(x.subarray(0, 6), 'l2')(codes, 40, b);
    assert.deepEqual(b, a);
  }
  const meta = { codec: 'rq', version: 1, d: 6, M: 2, nbits: 4, norm: 'qint8', maxBeamSize: 5, trained: true, normMin: 1, normMax: 2 };
  const corrupt = (e: unknown) => isZipmlError(e, 'E_CORRUPT');
  const cb = new Uint8Array(2 * 16 * 6 * 4);
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', meta)), corrupt);
  assert.throws(() => deserializeCodec(new ContainerBuilder().addSection('codebooks', cb.subarray(4)).finish('vectors.codec', meta)), corrupt);
  assert.throws(() => deserializeCodec(new ContainerBuilder().addSection('codebooks', cb).finish('vectors.codec', { ...meta, normMin: 3 })), corrupt);
  assert.throws(() => deserializeCodec(new ContainerBuilder().addSection('codebooks', cb).finish('vectors.codec', { ...meta, normMax: 'big' })), corrupt);
  assert.throws(() => deserializeCodec(new ContainerBuilder().addSection('codebooks', cb).finish('vectors.codec', { ...meta, norm: 'cqint8' })), corrupt);
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', { ...meta, trained: false })), corrupt);
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', { ...meta, M: 100000, trained: false })), (e) => isZipmlError(e, 'E_LIMIT'));
  assert.ok(deserializeCodec(new ContainerBuilder().addSection('codebooks', cb).finish('vectors.codec', meta)).isTrained);
});

for (const name of ['RQ3x4_Nqint8', 'RQ2x5_Nfloat']) {
  test(`deserializeCodec fuzz: 10,000 mutations of ${name}`, () => {
    const valid = trainedRQ(name).serialize();
    const { rejected, accepted } = fuzzDecoder(valid, 10_000, 0x7a + name.length, deserializeCodec, (c) => bytesEqual(c.serialize(), valid));
    assert.equal(rejected + accepted, 10_000);
    assert.ok(rejected > 5_000, `only ${rejected} rejected`);
  });
}
