import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinaryCodec, binaryOptionsFromName } from '../../src/vectors/codecs/binary.js';
import { isZipmlError } from '../../src/core/errors.js';
import type { Metric } from '../../src/vectors/types.js';
import { gaussian, decodeThenDistance, assertClose, bothPaths } from './codec-util.js';

const METRICS: Metric[] = ['l2', 'ip', 'cos'];

test('binary codes are Faiss LSH bits: x >= 0, LSB first, ceil(d/8) bytes', () => {
  const codec = new BinaryCodec(10, 'LSH');
  codec.train(gaussian(1, 20, 10));
  assert.equal(codec.codeSize, 2);
  const x = new Float32Array([1, -1, 0, -0.5, 2, 3, -2, 0.1, -3, 4]);
  const c = codec.encode(x);
  // bits: 1 0 1 0 1 1 0 1 | 0 1
  assert.deepEqual([...c], [0b10110101, 0b10]);
});

test('binary names follow Faiss LSH(r?)(t?)', () => {
  assert.deepEqual(binaryOptionsFromName('LSHrt', 8), { rotation: 'orthogonal', thresholds: true });
  assert.deepEqual(binaryOptionsFromName('LSH8', 8), { rotation: 'none', thresholds: false });
  assert.deepEqual(binaryOptionsFromName('LSHh', 8), { rotation: 'hadamard', thresholds: false });
  assert.equal(binaryOptionsFromName('PQ8', 8), undefined);
  assert.throws(() => binaryOptionsFromName('LSH16', 8), (e) => isZipmlError(e, 'E_ARG'));
  assert.equal(new BinaryCodec(8, { rotation: 'orthogonal', thresholds: true }).name, 'LSHrt');
});

test('binary thresholds are the training medians', () => {
  const d = 3;
  const x = new Float32Array([1, 10, 5, 2, 20, 5, 3, 30, 5, 4, 40, 6]);
  const codec = new BinaryCodec(d, 'LSHt');
  codec.train(x);
  assert.deepEqual([...codec.thresholds], [2.5, 25, 5]);
});

test('binary distances equal decode-then-distance (all rotations, metrics, paths)', async () => {
  const d = 70, n = 400;
  const x = gaussian(2, n, d, 1, 0.4);
  const queries = gaussian(3, 2, d, 1, 0.2);
  await bothPaths((path) => {
    for (const name of ['LSH', 'LSHt', 'LSHr', 'LSHrt', 'LSHh', 'LSHht']) {
      const codec = new BinaryCodec(d, name);
      codec.train(x, { seed: 5 });
      const codes = codec.encode(x);
      for (let qi = 0; qi < 2; qi++) {
        const q = queries.subarray(qi * d, (qi + 1) * d);
        for (const metric of METRICS) {
          const out = new Float32Array(n);
          codec.distances(q, metric)(codes, n, out);
          assertClose(out, decodeThenDistance(codec, q, codes, metric), 2e-5, `${name} ${metric} ${path}`);
        }
      }
    }
  });
});

test('binary Hamming distances equal a bit count of the XOR', async () => {
  const d = 200, n = 300;
  const x = gaussian(4, n, d);
  const codec = new BinaryCodec(d, 'LSHr');
  codec.train(x);
  const codes = codec.encode(x);
  const q = x.subarray(7 * d, 8 * d);
  const qc = codec.encode(q);
  await bothPaths((path) => {
    const out = new Uint32Array(n);
    codec.hamming(q)(codes, n, out);
    assert.equal(out[7], 0);
    for (let i = 0; i < n; i++) {
      let h = 0;
      for (let j = 0; j < d; j++) h += ((qc[j >> 3]! ^ codes[i * codec.codeSize + (j >> 3)]!) >> (j & 7)) & 1;
      assert.equal(out[i], h, `row ${i} ${path}`);
    }
  });
});

test('binary bad input gives ZipmlError', () => {
  const isArg = (e: unknown) => isZipmlError(e, 'E_ARG');
  const codec = new BinaryCodec(8, 'LSHr');
  assert.throws(() => codec.encode(new Float32Array(8)), isArg);
  assert.throws(() => codec.distances(new Float32Array(8), 'l2'), isArg);
  assert.throws(() => codec.train(new Float32Array(0)), isArg);
  assert.throws(() => codec.train(new Float32Array([1, 2, 3, 4, 5, 6, 7, Infinity])), isArg);
  codec.train(gaussian(1, 10, 8));
  assert.throws(() => codec.encode(new Float32Array(9)), isArg);
  assert.throws(() => codec.hamming(new Float32Array(7)), isArg);
  assert.throws(() => new BinaryCodec(8, 'LSHx'), isArg);
});
