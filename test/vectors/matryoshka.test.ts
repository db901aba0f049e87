import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MatryoshkaCodec } from '../../src/vectors/codecs/matryoshka.js';
import { ScalarQuantizer } from '../../src/vectors/codecs/sq.js';
import { RaBitQCodec } from '../../src/vectors/codecs/rabitq.js';
import { isZipmlError } from '../../src/core/errors.js';
import type { Metric } from '../../src/vectors/types.js';
import { gaussian, decodeThenDistance, assertClose } from './codec-util.js';

test('Matryoshka keeps the first m dimensions, re-normalized', () => {
  const codec = new MatryoshkaCodec(6, 3, new ScalarQuantizer(3, 'SQfp16'));
  const t = codec.truncate(new Float32Array([3, 0, 4, 9, 9, 9, 0, 0, 0, 1, 1, 1]));
  assert.deepEqual([...t], [0.6000000238418579, 0, 0.800000011920929, 0, 0, 0]);
  assert.equal(codec.name, 'MRL3,SQfp16');
  assert.equal(codec.codeSize, 6);
  const raw = new MatryoshkaCodec(6, 2, new ScalarQuantizer(2, 'SQfp16'), { normalize: false });
  assert.deepEqual([...raw.truncate(new Float32Array([3, 0, 4, 9, 9, 9]))], [3, 0]);
});

test('Matryoshka distances equal decode-then-distance against the truncated query', () => {
  const d = 64, m = 24, n = 200;
  const x = gaussian(1, n, d, 1, 0.1);
  const q = gaussian(2, 1, d);
  for (const inner of [new ScalarQuantizer(m, 'SQ8'), new ScalarQuantizer(m, 'SQ4'), new RaBitQCodec(m, 'RaBitQ9')]) {
    const codec = new MatryoshkaCodec(d, m, inner);
    assert.equal(codec.isTrained, false);
    codec.train(x);
    assert.equal(codec.isTrained, true);
    const codes = codec.encode(x);
    assert.equal(codes.length, n * inner.codeSize);
    const dec = codec.decode(codes);
    assert.equal(dec.length, n * d);
    for (let i = 0; i < n; i++) for (let j = m; j < d; j++) assert.equal(dec[i * d + j], 0);
    const tq = new Float32Array(d);
    tq.set(codec.truncate(q));
    for (const metric of ['l2', 'ip', 'cos'] as Metric[]) {
      const out = new Float32Array(n);
      codec.distances(q, metric)(codes, n, out);
      // RaBitQ's estimator is not decode-then-distance (see rabitq.test.ts); it is close at 9 bits.
      const tol = inner instanceof RaBitQCodec ? 2e-2 : 2e-5;
      assertClose(out, decodeThenDistance(codec, tq, codes, metric), tol, `${codec.name} ${metric}`);
    }
  }
});

test('Matryoshka bad input gives ZipmlError', () => {
  const isArg = (e: unknown) => isZipmlError(e, 'E_ARG');
  assert.throws(() => new MatryoshkaCodec(8, 9, new ScalarQuantizer(9, 'SQ8')), isArg);
  assert.throws(() => new MatryoshkaCodec(8, 4, new ScalarQuantizer(5, 'SQ8')), isArg);
  const codec = new MatryoshkaCodec(8, 4, new ScalarQuantizer(4, 'SQ8'));
  assert.throws(() => codec.encode(new Float32Array(8)), isArg);
  assert.throws(() => codec.train(new Float32Array(0)), isArg);
  assert.throws(() => codec.train(new Float32Array(12)), isArg);
  codec.train(gaussian(1, 5, 8));
  assert.throws(() => codec.distances(new Float32Array(4), 'l2'), isArg);
  assert.throws(() => codec.decode(new Uint8Array(5)), isArg);
});
