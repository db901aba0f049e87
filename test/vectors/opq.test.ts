import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPQCodec, opqOptionsFromName, svd, trainOPQRotation } from '../../src/vectors/codecs/opq.js';
import { ProductQuantizer, crossProduct } from '../../src/vectors/codecs/pq.js';
import { deserializeCodec } from '../../src/vectors/codecs/serialize.js';
import { RandomOrthogonalRotation } from '../../src/vectors/rotation.js';
import { ContainerBuilder } from '../../src/core/container.js';
import { isZipmlError } from '../../src/core/errors.js';
import type { Metric } from '../../src/vectors/types.js';
import { Rng } from '../util/rng.js';
import { fuzzDecoder, bytesEqual } from '../util/mutate.js';
import { gaussian, mixture, decodeThenDistance, assertClose, bothPaths } from './codec-util.js';

const isArg = (e: unknown) => isZipmlError(e, 'E_ARG');

function randomMatrix(rng: Rng, m: number, n: number, scale = 1): Float64Array {
  const a = new Float64Array(m * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal() * scale;
  return a;
}

/** Checks a = U·diag(s)·Vᵀ, orthonormal columns of U and V, s descending and >= 0. */
function checkSvd(a: Float64Array, m: number, n: number, what: string): { s: Float64Array } {
  const { u, s, v } = svd(a, m, n);
  let norm = 0;
  for (const x of a) norm = Math.max(norm, Math.abs(x));
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let r = 0;
      for (let k = 0; k < n; k++) r += u[i * n + k]! * s[k]! * v[j * n + k]!;
      assert.ok(Math.abs(r - a[i * n + j]!) <= 1e-9 * Math.max(norm, 1e-300) * n, `${what}: reconstruction (${i},${j}) ${r} vs ${a[i * n + j]}`);
    }
  }
  for (const [q, rows, name] of [[u, m, 'U'], [v, n, 'V']] as const) {
    for (let a1 = 0; a1 < n; a1++) {
      for (let b1 = a1; b1 < n; b1++) {
        let dot = 0;
        for (let i = 0; i < rows; i++) dot += q[i * n + a1]! * q[i * n + b1]!;
        assert.ok(Math.abs(dot - (a1 === b1 ? 1 : 0)) < 1e-12, `${what}: ${name} columns ${a1},${b1}: ${dot}`);
      }
    }
  }
  for (let k = 0; k < n; k++) {
    assert.ok(s[k]! >= 0, `${what}: s[${k}] < 0`);
    if (k > 0) assert.ok(s[k]! <= s[k - 1]! * (1 + 1e-12) + 1e-12 * s[0]!, `${what}: s not descending`);
  }
  return { s };
}

test('svd: random, tall, rank-deficient, zero, diagonal and badly scaled matrices', () => {
  const rng = new Rng(11);
  for (const [m, n] of [[1, 1], [2, 2], [6, 6], [9, 5], [40, 40], [64, 17]] as const) checkSvd(randomMatrix(rng, m, n), m, n, `random ${m}x${n}`);
  // Rank 2 in 7x7: five singular values vanish, U and V stay orthogonal.
  const l = randomMatrix(rng, 7, 2), r = randomMatrix(rng, 2, 7);
  const low = new Float64Array(49);
  for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) low[i * 7 + j] = l[i * 2]! * r[j]! + l[i * 2 + 1]! * r[7 + j]!;
  const { s } = checkSvd(low, 7, 7, 'rank 2');
  for (let k = 2; k < 7; k++) assert.ok(s[k]! < 1e-7 * s[0]!, `rank 2: s[${k}] = ${s[k]}`);
  checkSvd(new Float64Array(16), 4, 4, 'zero');
  // Known singular values, in scrambled order and with signs.
  const diag = new Float64Array(16);
  [[0, -2], [1, 7], [2, 0.5], [3, 3]].forEach(([i, v]) => (diag[i! * 5] = v!));
  assert.deepEqual(Array.from(checkSvd(diag, 4, 4, 'diagonal').s).map((x) => +x.toFixed(12)), [7, 3, 2, 0.5]);
  checkSvd(randomMatrix(rng, 5, 5, 1e-150), 5, 5, 'tiny');
  checkSvd(randomMatrix(rng, 5, 5, 1e150), 5, 5, 'huge');
  // Singular values are the square roots of the eigenvalues of AᵀA: compare on a 2x2.
  const a = Float64Array.of(3, 1, 1, 2);
  const tr = 3 * 3 + 1 + 1 + 4, det = (3 * 2 - 1) ** 2;
  const l1 = (tr + Math.sqrt(tr * tr - 4 * det)) / 2, l2 = (tr - Math.sqrt(tr * tr - 4 * det)) / 2;
  const s2 = svd(a, 2, 2).s;
  assert.ok(Math.abs(s2[0]! - Math.sqrt(l1)) < 1e-12 && Math.abs(s2[1]! - Math.sqrt(l2)) < 1e-12);
  assert.throws(() => svd(new Float64Array(6), 2, 3), isArg);
  assert.throws(() => svd(Float64Array.of(1, NaN, 0, 1), 2, 2), isArg);
});

test('crossProduct equals Σ a_r·b_rᵀ (slabs of 256 rows through the kernel)', async () => {
  const n = 600, da = 7, db = 5;
  const a = gaussian(8, n, da), b = gaussian(9, n, db);
  await bothPaths((path) => {
    const got = crossProduct(a, b, n, da, db);
    const want = new Float64Array(da * db);
    for (let r = 0; r < n; r++) for (let i = 0; i < da; i++) for (let j = 0; j < db; j++) want[i * db + j] = want[i * db + j]! + a[r * da + i]! * b[r * db + j]!;
    assertClose(got, want, 1e-5, `crossProduct ${path}`, 1e-4);
    const sym = crossProduct(a, a, n, da, da);
    for (let i = 0; i < da; i++) assert.ok(sym[i * da + i]! > 0);
  });
});

test('Procrustes by svd recovers a rotation exactly', () => {
  const d = 12, n = 50;
  const rot = RandomOrthogonalRotation.create(d, 3).matrix;
  const x = gaussian(4, n, d);
  const y = new RandomOrthogonalRotation(d, rot).apply(x);
  // Yᵀ·X = U·S·Vᵀ, R = U·Vᵀ.
  const m = new Float64Array(d * d);
  for (let r = 0; r < n; r++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) m[i * d + j] = m[i * d + j]! + y[r * d + i]! * x[r * d + j]!;
  const { u, v } = svd(m, d, d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += u[i * d + k]! * v[j * d + k]!;
      assert.ok(Math.abs(s - rot[i * d + j]!) < 1e-5, `R[${i},${j}]`);
    }
  }
});

/** Correlated data: each coordinate mixes a few strong latent factors (PQ's worst case). */
function correlated(seed: number, n: number, d: number): Float32Array {
  const rng = new Rng(seed);
  const mix = new Float32Array(d * 4);
  const mr = new Rng(77);
  for (let i = 0; i < mix.length; i++) mix[i] = mr.normal();
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const z = [rng.normal() * 4, rng.normal() * 3, rng.normal() * 2, rng.normal()];
    for (let j = 0; j < d; j++) {
      let s = 0.1 * rng.normal();
      for (let k = 0; k < 4; k++) s += mix[j * 4 + k]! * z[k]!;
      // The first dimensions carry most of the variance: unbalanced sub-spaces for plain PQ.
      x[i * d + j] = s * (j < d / 4 ? 3 : 0.3);
    }
  }
  return x;
}

test('OPQ lowers the reconstruction error of PQ on correlated data', () => {
  const d = 16, train = correlated(1, 1500, d), base = correlated(2, 1000, d);
  const mse = (c: { decode(b: Uint8Array): Float32Array; encode(x: Float32Array): Uint8Array }): number => {
    const y = c.decode(c.encode(base));
    let s = 0;
    for (let i = 0; i < y.length; i++) s += (y[i]! - base[i]!) ** 2;
    return s / 1000;
  };
  const pq = new ProductQuantizer(d, 'PQ4x4');
  pq.train(train);
  const opq = new OPQCodec(d, 'OPQ4,PQ4x4');
  opq.train(train, { niter: 20 });
  const ePQ = mse(pq), eOPQ = mse(opq);
  assert.ok(eOPQ < 0.8 * ePQ, `OPQ mse ${eOPQ} vs PQ ${ePQ}`);
  // The alternation lowers the inner PQ's error.
  assert.equal(opq.objectives.length, 20);
  assert.ok(opq.objectives[19]! < opq.objectives[0]!);
  // The learned matrix is a rotation.
  const r = opq.rotation!.matrix;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += r[i * d + k]! * r[j * d + k]!;
      assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-5);
    }
  }
});

test('OPQ distances equal decode-then-distance (l2, ip, cos)', async () => {
  const d = 16, n = 600;
  const x = mixture(3, n, d, 6);
  const opq = new OPQCodec(d, 'OPQ4,PQ8x5');
  opq.train(x, { niter: 3, niterPQ0: 5, niterPQ: 2 });
  const codes = opq.encode(x);
  const q = mixture(4, 1, d, 6);
  await bothPaths((path) => {
    for (const metric of ['l2', 'ip', 'cos'] as Metric[]) {
      const out = new Float32Array(n);
      opq.distances(q, metric)(codes, n, out);
      assertClose(out, decodeThenDistance(opq, q, codes, metric), 2e-5, `${metric} ${path}`, 1e-5);
    }
  });
});

test('OPQ names, options and errors', () => {
  assert.deepEqual(opqOptionsFromName('OPQ16,PQ16'), { opqM: 16, M: 16, nbits: 8 });
  assert.deepEqual(opqOptionsFromName('OPQ8,PQ16x4'), { opqM: 8, M: 16, nbits: 4 });
  assert.equal(opqOptionsFromName('OPQ8_64,PQ8'), undefined);
  const c = new OPQCodec(32, 'OPQ8,PQ16x4');
  assert.equal(c.name, 'OPQ8,PQ16x4');
  assert.equal(c.codeSize, 8);
  assert.equal(new OPQCodec(32, { M: 4 }).name, 'OPQ4,PQ4x8');
  assert.throws(() => new OPQCodec(30, 'OPQ8,PQ5'), isArg);
  assert.throws(() => new OPQCodec(30, 'OPQ4,PQ6'), isArg);
  assert.throws(() => new OPQCodec(32, 'PQ8'), isArg);
  assert.throws(() => c.encode(new Float32Array(32)), isArg);
  assert.throws(() => c.decode(new Uint8Array(8)), isArg);
  assert.throws(() => c.distances(new Float32Array(32), 'l2'), isArg);
  // Faiss trains OPQ's own PQ with 8 bits: 256 training vectors at least.
  assert.throws(() => c.train(gaussian(1, 255, 32)), (e) => isArg(e) && /256 centroids/.test((e as Error).message));
  assert.throws(() => trainOPQRotation(gaussian(1, 300, 32), 32, 8, { niter: -1 }), isArg);
  const steps: Array<[number, number]> = [];
  const small = new OPQCodec(8, 'OPQ2,PQ2x4');
  small.train(gaussian(2, 300, 8), { niter: 2, niterPQ0: 2, niterPQ: 1, onProgress: (a, b) => steps.push([a, b]) });
  assert.deepEqual(steps, [[1, 4], [2, 4], [3, 4], [4, 4]]);
  // maxTrainPoints subsamples the rotation's training set.
  const r = trainOPQRotation(gaussian(3, 600, 8), 8, 2, { niter: 1, niterPQ0: 1, maxTrainPoints: 300 });
  assert.equal(r.objectives.length, 1);
  const ac = new AbortController();
  ac.abort();
  assert.throws(() => small.train(gaussian(2, 300, 8), { signal: ac.signal }), (e) => isZipmlError(e, 'E_ABORTED'));
});

function trainedOPQ(): OPQCodec {
  const c = new OPQCodec(8, 'OPQ2,PQ4x4');
  c.train(mixture(5, 300, 8, 4), { niter: 2, niterPQ0: 3, niterPQ: 1 });
  return c;
}

test('OPQ serialization round trips; a non-orthogonal rotation is rejected', () => {
  const c = new OPQCodec(8, 'OPQ2,PQ4x4');
  assert.equal(deserializeCodec(c.serialize()).isTrained, false);
  const t = trainedOPQ();
  const bytes = t.serialize();
  const back = deserializeCodec(bytes);
  assert.ok(back instanceof OPQCodec);
  assert.equal(back.name, t.name);
  assert.ok(bytesEqual(back.serialize(), bytes));
  const x = mixture(6, 50, 8, 4);
  assert.ok(bytesEqual(back.encode(x), t.encode(x)));
  const meta = { codec: 'opq', version: 1, d: 8, opqM: 2, M: 4, nbits: 4, trained: true, transform: { kind: 'orthogonal', section: 'rotation', dIn: 8, dOut: 8 } };
  const skew = new Float32Array(64).fill(0.3);
  const bad = new ContainerBuilder()
    .addSection('centroids', new Uint8Array(4 * 16 * 2 * 4))
    .addSection('rotation', new Uint8Array(skew.buffer))
    .finish('vectors.codec', meta);
  assert.throws(() => deserializeCodec(bad), (e) => isZipmlError(e, 'E_CORRUPT'));
  const noRot = new ContainerBuilder().addSection('centroids', new Uint8Array(4 * 16 * 2 * 4)).finish('vectors.codec', meta);
  assert.throws(() => deserializeCodec(noRot), (e) => isZipmlError(e, 'E_CORRUPT'));
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', { ...meta, opqM: 3, trained: false, transform: null })), (e) => isZipmlError(e, 'E_CORRUPT'));
});

test('deserializeCodec fuzz: 10,000 mutations of OPQ2,PQ4x4', () => {
  const valid = trainedOPQ().serialize();
  const { rejected, accepted } = fuzzDecoder(valid, 10_000, 0x0b9, deserializeCodec, (c) => bytesEqual(c.serialize(), valid));
  assert.equal(rejected + accepted, 10_000);
  assert.ok(rejected > 5_000, `only ${rejected} rejected`);
});
