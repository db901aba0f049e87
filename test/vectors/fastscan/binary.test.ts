import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../util/rng.js';
import { hammingKnn } from '../../../src/vectors/fastscan/binary.js';
import { hammingReference } from '../../../src/vectors/codecs/vcodes.js';

test('hammingKnn equals a full sort of reference Hamming distances (ties by row), with filters', () => {
  const rng = new Rng(41);
  for (const [n, cs, m] of [[9000, 16, 16], [300, 13, 12], [5, 8, 8]] as const) {
    const codes = rng.bytes(n * cs), q = rng.bytes(cs);
    const all = new Uint32Array(n);
    hammingReference(q, codes, n, cs, m, all);
    const order = (keep: (r: number) => boolean): number[] =>
      Array.from({ length: n }, (_, i) => i).filter(keep).sort((a, b) => all[a]! - all[b]! || a - b);
    for (const k of [1, 10, 50]) {
      const got = hammingKnn(q, codes, n, cs, m, k);
      const want = order(() => true).slice(0, k);
      assert.deepEqual(Array.from(got.rows), want, `n=${n} k=${k}`);
      assert.deepEqual(Array.from(got.dist), want.map((r) => all[r]!));
      const even = (r: number): boolean => r % 2 === 0;
      assert.deepEqual(Array.from(hammingKnn(q, codes, n, cs, m, k, { filter: even }).rows), order(even).slice(0, k));
    }
    const th = all[order(() => true)[3]!]!;
    const below = hammingKnn(q, codes, n, cs, m, 10, { threshold: th });
    assert.ok(below.dist.every((v) => v < th));
    assert.equal(below.rows.length, order((r) => all[r]! < th).slice(0, 10).length);
  }
});
