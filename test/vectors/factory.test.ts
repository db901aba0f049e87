import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCodec } from '../../src/vectors/codecs/factory.js';
import { deserializeCodec } from '../../src/vectors/codecs/serialize.js';
import { isZipmlError } from '../../src/core/errors.js';
import { Rng } from '../util/rng.js';

test('createCodec builds each codec family from its Faiss factory name, with honest code sizes', () => {
  const d = 32;
  const cases: Array<[string, string, number]> = [
    ['SQ8', 'ScalarQuantizer', 32], ['SQ4', 'ScalarQuantizer', 16], ['SQfp16', 'ScalarQuantizer', 64],
    ['LSHrt', 'BinaryCodec', 4], ['RaBitQ', 'RaBitQCodec', 4 + 12],
    ['PQ8x8', 'ProductQuantizer', 8], ['PQ8x4', 'ProductQuantizer', 4],
    ['OPQ8,PQ8x8', 'OPQCodec', 8], ['RQ4x8', 'ResidualQuantizer', 4],
    ['MRL16,SQ8', 'MatryoshkaCodec', 16],
  ];
  const rng = new Rng(3);
  const x = new Float32Array(600 * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  for (const [name, cls, size] of cases) {
    const c = createCodec(name, d);
    assert.equal(c.constructor.name, cls, name);
    assert.equal(c.codeSize, size, name);
    c.train(x, { seed: 1 });
    const codes = c.encode(x.subarray(0, 10 * d));
    assert.equal(codes.length, 10 * size);
    // The round trip through bytes gives a codec that decodes the same codes identically.
    assert.deepEqual(deserializeCodec(c.serialize()).decode(codes), c.decode(codes), name);
  }
  for (const bad of ['PQ7x8', 'IVF100,Flat', 'SQ3', '', 'MRL64,SQ8']) {
    assert.throws(() => createCodec(bad, d), (e: unknown) => isZipmlError(e, 'E_ARG'), bad);
  }
});
