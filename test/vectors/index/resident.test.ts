import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResidentPQLists, combineTableReference } from '../../../src/vectors/index/resident-pq.js';
import { InvertedLists } from '../../../src/vectors/index/lists.js';
import { lutScanReference, nibblePlanes } from '../../../src/vectors/codecs/pq.js';
import { ResidentRows, l2sqrDistances, innerProducts } from '../../../src/vectors/distances.js';
import { simdSupported } from '../../../src/kernels/loader.js';
import { ResidentSQ8 } from '../../../src/vectors/index/resident-sq8.js';
import { sq8DotReference, sq8L2Reference } from '../../../src/vectors/codecs/vcodes.js';
import { Rng } from '../../util/rng.js';

const skip = simdSupported() ? false : 'no WebAssembly SIMD here: the resident kernels are not used';

test('resident PQ lists scan like the reference table scan (both kernels, both table sources)', { skip }, () => {
  const r = new Rng(31);
  for (const [M, nbits] of [[8, 4], [13, 4], [28, 4], [6, 8], [5, 6]] as const) {
    const ksub = 1 << nbits;
    const cs = Math.ceil((M * nbits) / 8);
    const nlist = 5;
    const lists = new InvertedLists(nlist, cs);
    const sizes = [0, 7, 64, 200, 37];
    let slot = 0;
    for (let l = 0; l < nlist; l++) for (let i = 0; i < sizes[l]!; i++) lists.append(l, r.bytes(cs), slot++);
    const pre = new Float32Array(nlist * M * ksub).map(() => r.normal() * 3);
    const qt = new Float32Array(M * ksub).map(() => r.normal());
    const res = ResidentPQLists.create(lists, M, nbits, pre)!;
    res.setQueryTable(qt);
    for (let l = 0; l < nlist; l++) {
      const { codes, n } = lists.list(l);
      const t = new Float32Array(M * ksub);
      combineTableReference(qt, pre.subarray(l * M * ksub, (l + 1) * M * ksub), t);
      const want = new Float32Array(n);
      lutScanReference(t, codes, n, cs, M, nbits, want);
      const a = new Float32Array(n), b = new Float32Array(n);
      res.scanPre(l, 0, n, a);
      res.scan(l, t, 0, n, b);
      assert.deepEqual(b, want, `M=${M} nbits=${nbits} list ${l}: scan`);
      assert.deepEqual(a, want, `M=${M} nbits=${nbits} list ${l}: scanPre`);
      if (n >= 32) {
        // A part of a list, starting at a multiple of 16 rows.
        const part = new Float32Array(n - 16);
        res.scan(l, t, 16, n - 16, part);
        assert.deepEqual(part, want.subarray(16));
      }
    }
  }
  // nibblePlanes (the TS layout) is what the planesOf kernel writes: checked through pq4Scan above.
  assert.equal(nibblePlanes(new Float32Array(32), 2).length, 128);
});

test('resident rows give the streamed kernels\u2019 values, before and after appends', () => {
  const r = new Rng(32);
  const d = 37;
  const x = new Float32Array(300 * d).map(() => r.normal());
  const rows = new ResidentRows(d, x.subarray(0, 100 * d));
  rows.append(x.subarray(100 * d));
  const q = new Float32Array(d).map(() => r.normal());
  const l2 = l2sqrDistances(q, x, d), ip = innerProducts(q, x, d);
  const out = new Float32Array(300);
  rows.range(q, 'l2', 0, 300, out);
  assert.deepEqual(out, l2);
  rows.range(q, 'ip', 0, 300, out);
  assert.deepEqual(out, ip);
  const pick = [299, 0, 150, 7];
  const some = new Float32Array(4);
  rows.pick(q, 'l2', pick, some);
  assert.deepEqual(Array.from(some), pick.map((i) => l2[i]!));
});

test('resident SQ8 refinement codes: picked rows equal the reference, across appends and growth', { skip }, () => {
  const r = new Rng(47);
  for (const d of [784, 33, 16, 5]) {
    const cs = d;
    const first = r.bytes(37 * cs);
    const store = ResidentSQ8.create(d, cs, first, 37)!;
    // Grows past its first capacity (64 rows), so the codes move once.
    const more = r.bytes(90 * cs);
    store.append(more, 90);
    const all = new Uint8Array(127 * cs);
    all.set(first);
    all.set(more, 37 * cs);
    const dPad = (d + 31) & ~31;
    const a = new Float32Array(dPad), s = new Float32Array(dPad);
    for (let j = 0; j < d; j++) {
      a[j] = r.normal() * 40;
      s[j] = r.float() + 0.01;
    }
    const slots = Array.from({ length: 50 }, () => r.int(127));
    slots.push(126, 0);
    for (const scale of [s, null]) {
      const got = new Float32Array(slots.length), ref = new Float32Array(slots.length), direct = new Float32Array(slots.length);
      store.distances(a, scale, slots, got);
      store.distancesReference(a, scale, slots, ref);
      // And straight from the JS copy of the codes, so the resident bytes are checked too.
      slots.forEach((slot, j) => {
        const row = all.subarray(slot * cs, (slot + 1) * cs);
        if (scale) sq8L2Reference(a, scale, row, 1, cs, d, direct.subarray(j, j + 1));
        else sq8DotReference(a, row, 1, cs, d, direct.subarray(j, j + 1));
      });
      assert.deepEqual(ref, direct, `d=${d}: resident bytes`);
      for (let j = 0; j < slots.length; j++) assert.ok(Math.abs(got[j]! - ref[j]!) <= 1e-5 * Math.max(1, Math.abs(ref[j]!)), `d=${d} ${scale ? 'l2' : 'dot'} row ${slots[j]}: ${got[j]} vs ${ref[j]}`);
    }
  }
});
