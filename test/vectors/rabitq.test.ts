import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaBitQCodec, rabitqOptionsFromName } from '../../src/vectors/codecs/rabitq.js';
import { BinaryCodec } from '../../src/vectors/codecs/binary.js';
import { isZipmlError } from '../../src/core/errors.js';
import type { Metric } from '../../src/vectors/types.js';
import { gaussian, mixture, assertClose, bothPaths, topK } from './codec-util.js';

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += a[ao + j]! * b[bo + j]!;
  return s;
}

test('RaBitQ names and code sizes follow Faiss (RaBitQ, RaBitQ2..9)', () => {
  assert.deepEqual(rabitqOptionsFromName('RaBitQ'), { nbBits: 1 });
  assert.deepEqual(rabitqOptionsFromName('RaBitQ4'), { nbBits: 4 });
  assert.equal(rabitqOptionsFromName('RaBitQ10'), undefined);
  for (const d of [1, 100, 128]) {
    assert.equal(new RaBitQCodec(d).codeSize, Math.ceil(d / 8) + 12);
    for (let nb = 2; nb <= 9; nb++) {
      // Faiss: (d+7)/8 + 12 + (d·ex_bits+7)/8 + 8
      assert.equal(new RaBitQCodec(d, { nbBits: nb }).codeSize, Math.ceil(d / 8) + 12 + Math.ceil((d * (nb - 1)) / 8) + 8);
    }
  }
  assert.equal(new RaBitQCodec(8, 'RaBitQ9').name, 'RaBitQ9');
});

test('RaBitQ estimator = stored terms + inner product with the decoded vector (all widths, paths)', async () => {
  const d = 96, n = 300;
  const x = gaussian(1, n, d, 1, 0.7);
  const q = gaussian(2, 1, d, 1, 0.3);
  await bothPaths((path) => {
    for (const rotation of ['orthogonal', 'hadamard', 'none'] as const) {
      for (const nbBits of [1, 2, 5, 9]) {
        const codec = new RaBitQCodec(d, { nbBits, rotation });
        codec.train(x, { seed: 4 });
        const codes = codec.encode(x);
        const dec = codec.decode(codes);
        const c = codec.center;
        const l2 = new Float32Array(n), ip = new Float32Array(n), cos = new Float32Array(n);
        codec.distances(q, 'l2')(codes, n, l2);
        codec.distances(q, 'ip')(codes, n, ip);
        codec.distances(q, 'cos')(codes, n, cos);
        const wl2 = new Float32Array(n), wip = new Float32Array(n), wcos = new Float32Array(n);
        let qc2 = 0, qn2 = 0, qDotC = 0, cn2 = 0;
        for (let j = 0; j < d; j++) {
          qc2 += (q[j]! - c[j]!) ** 2;
          qn2 += q[j]! ** 2;
          qDotC += q[j]! * c[j]!;
          cn2 += c[j]! ** 2;
        }
        for (let i = 0; i < n; i++) {
          // ⟨q − c, x̂ − c⟩ is what the estimator computes; |o − c|² and ⟨c, o − c⟩ are stored.
          let e = 0, r2 = 0, cr = 0;
          for (let j = 0; j < d; j++) {
            e += (q[j]! - c[j]!) * (dec[i * d + j]! - c[j]!);
            r2 += (x[i * d + j]! - c[j]!) ** 2;
            cr += c[j]! * (x[i * d + j]! - c[j]!);
          }
          wl2[i] = Math.max(0, qc2 + r2 - 2 * e);
          wip[i] = qDotC + cr + e;
          wcos[i] = wip[i]! / Math.sqrt(qn2 * (cn2 + 2 * cr + r2));
        }
        const what = `RaBitQ${nbBits} ${rotation} ${path}`;
        assertClose(l2, wl2, 1e-4, `${what} l2`);
        assertClose(ip, wip, 1e-4, `${what} ip`);
        assertClose(cos, wcos, 1e-4, `${what} cos`);
      }
    }
  });
});

test('RaBitQ estimator is unbiased and its error bound holds with the stated probability', () => {
  // Over many (vector, query) pairs and several rotations: the mean error of the inner-product
  // estimate is within 4 standard errors of 0, and |error| ≤ bound in at least
  // 1 − 2(1 − Φ(1.9)) ≈ 94.3% of pairs (minus 1.5 points of sampling slack).
  const d = 128, n = 1000, nq = 6;
  const x = gaussian(5, n, d, 1, 0.5);
  for (const nbBits of [1, 3]) {
    let sum = 0, sum2 = 0, viol = 0, count = 0, rmse = 0;
    for (const seed of [1, 2]) {
      const codec = new RaBitQCodec(d, { nbBits });
      codec.train(x, { seed });
      const codes = codec.encode(x);
      for (let k = 0; k < nq; k++) {
        const q = gaussian(100 + k + 10 * seed, 1, d, 1, 0.5);
        const out = new Float32Array(n), bound = new Float32Array(n);
        codec.distancesWithBound(q, 'ip')(codes, n, out, bound);
        for (let i = 0; i < n; i++) {
          const err = out[i]! - dot(q, 0, x, i * d, d);
          sum += err;
          sum2 += err * err;
          if (Math.abs(err) > bound[i]!) viol++;
          count++;
        }
      }
    }
    const mean = sum / count;
    const sd = Math.sqrt(sum2 / count - mean * mean);
    rmse = Math.sqrt(sum2 / count);
    assert.ok(Math.abs(mean) < (4 * sd) / Math.sqrt(count), `RaBitQ${nbBits}: mean error ${mean}, sd ${sd}`);
    assert.ok(viol / count <= 0.0574 + 0.015, `RaBitQ${nbBits}: bound violated in ${((100 * viol) / count).toFixed(2)}% of pairs`);
    assert.ok(rmse > 0);
  }
});

test('RaBitQ error shrinks with more bits; l2 bounds are twice the ip bounds', () => {
  const d = 64, n = 500;
  const x = gaussian(6, n, d);
  const q = gaussian(7, 1, d);
  let prev = Infinity;
  for (const nbBits of [1, 2, 4, 6, 9]) {
    const codec = new RaBitQCodec(d, { nbBits });
    codec.train(x);
    const codes = codec.encode(x);
    const out = new Float32Array(n), b1 = new Float32Array(n), b2 = new Float32Array(n);
    codec.distancesWithBound(q, 'ip')(codes, n, out, b1);
    let se = 0;
    for (let i = 0; i < n; i++) se += (out[i]! - dot(q, 0, x, i * d, d)) ** 2;
    const rmse = Math.sqrt(se / n);
    assert.ok(rmse < prev, `RaBitQ${nbBits} rmse ${rmse} >= ${prev}`);
    prev = rmse;
    codec.distancesWithBound(q, 'l2')(codes, n, out, b2);
    assertClose(b2, b1.map((v) => 2 * v), 1e-6, 'bounds');
  }
  assert.ok(prev < 0.05, `9-bit rmse ${prev}`); // inner products here are of order 64
});

test('RaBitQ 1-bit recall@10 beats sign codes at equal bits on a Gaussian mixture', () => {
  const d = 128, n = 5000, nq = 50, k = 10;
  const x = mixture(1, n, d, 20);
  const queries = mixture(2, nq, d, 20);
  const truth: Set<number>[] = [];
  for (let qi = 0; qi < nq; qi++) {
    const dist = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (queries[qi * d + j]! - x[i * d + j]!) ** 2;
      dist[i] = s;
    }
    truth.push(new Set(topK(dist, k, false)));
  }
  const recall = (search: (q: Float32Array) => ArrayLike<number>): number => {
    let hit = 0;
    for (let qi = 0; qi < nq; qi++) for (const i of topK(search(queries.subarray(qi * d, (qi + 1) * d)), k, false)) if (truth[qi]!.has(i)) hit++;
    return hit / (nq * k);
  };
  const rq = new RaBitQCodec(d);
  rq.train(x);
  const rcodes = rq.encode(x);
  const rRecall = recall((q) => {
    const out = new Float32Array(n);
    rq.distances(q, 'l2')(rcodes, n, out);
    return out;
  });
  for (const name of ['LSH', 'LSHr', 'LSHrt']) {
    const b = new BinaryCodec(d, name);
    b.train(x);
    const codes = b.encode(x);
    const asym = recall((q) => {
      const out = new Float32Array(n);
      b.distances(q, 'l2')(codes, n, out);
      return out;
    });
    const ham = recall((q) => {
      const out = new Uint32Array(n);
      b.hamming(q)(codes, n, out);
      return out;
    });
    assert.ok(rRecall > asym + 0.03 && rRecall > ham + 0.03, `RaBitQ ${rRecall} vs ${name} ${asym} (float query) / ${ham} (Hamming)`);
  }
});

test('RaBitQ bad input gives ZipmlError', () => {
  const isArg = (e: unknown) => isZipmlError(e, 'E_ARG');
  const codec = new RaBitQCodec(8, 'RaBitQ3');
  assert.throws(() => codec.encode(new Float32Array(8)), isArg);
  assert.throws(() => codec.decode(new Uint8Array(codec.codeSize)), isArg);
  assert.throws(() => codec.train(new Float32Array(0)), isArg);
  assert.throws(() => codec.train(new Float32Array([1, 2, 3, 4, 5, 6, 7, NaN])), isArg);
  codec.train(gaussian(1, 10, 8));
  assert.throws(() => codec.encode(new Float32Array(7)), isArg);
  assert.throws(() => codec.distances(new Float32Array(9), 'l2'), isArg);
  const f = codec.distancesWithBound(new Float32Array(8), 'ip' as Metric);
  assert.throws(() => f(new Uint8Array(codec.codeSize * 2), 2, new Float32Array(2), new Float32Array(1)), isArg);
  assert.throws(() => new RaBitQCodec(8, { nbBits: 10 }), isArg);
  assert.throws(() => new RaBitQCodec(8, 'RaBitQ0'), isArg);
});
