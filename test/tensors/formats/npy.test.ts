/** npy as one tensor: numpy-written fixtures (v1, v2, v3, Fortran order, 0-d), hostile headers, fuzzing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bufferSource } from '../../../src/tensors/layout.js';
import { readNpyLayout } from '../../../src/tensors/formats/npy.js';
import { fuzzLayout, rejectsWith } from './util.js';

// Written by numpy 2.4.6 (numpy.lib.format.write_array).
const FIXTURES = {
  i2_2x3_v1: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGkyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAEAAgADAAQABQA=',
  f8_3x4_v2: 'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywgNCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAOA/AAAAAAAA8D8AAAAAAAD4PwAAAAAAAABAAAAAAAAABEAAAAAAAAAIQAAAAAAAAAxAAAAAAAAAEEAAAAAAAAASQAAAAAAAABRAAAAAAAAAFkA=',
  b1_3_v3: 'k05VTVBZAwB0AAAAeydkZXNjcic6ICd8YjEnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=',
  u4_2x3_fortran: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPHU0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAwAAAAEAAAAEAAAAAgAAAAUAAAA=',
  f4_scalar: 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAGBA',
};
const fx = (k: keyof typeof FIXTURES) => new Uint8Array(Buffer.from(FIXTURES[k], 'base64'));

test('npy: numpy-written files of each version give one exact region', async () => {
  const cases: [keyof typeof FIXTURES, string, number[], string][] = [
    ['i2_2x3_v1', 'I16', [2, 3], '1.0'], ['f8_3x4_v2', 'F64', [3, 4], '2.0'], ['b1_3_v3', 'BOOL', [3], '3.0'],
    ['u4_2x3_fortran', 'U32', [2, 3], '1.0'], ['f4_scalar', 'F32', [], '1.0'],
  ];
  for (const [k, dtype, shape, version] of cases) {
    const b = fx(k);
    const l = await readNpyLayout(bufferSource(b));
    assert.equal(l.tensors.length, 1);
    const r = l.tensors[0]!;
    assert.equal(r.dtype, dtype, k);
    assert.deepEqual(r.shape, shape, k);
    assert.equal(r.offset + r.byteLength, b.length, k);
    assert.equal(r.offset % 64, 0, `${k}: numpy aligns the data to 64 bytes`);
    assert.equal(l.metadata.version, version);
  }
  const f8 = fx('f8_3x4_v2');
  const r = (await readNpyLayout(bufferSource(f8))).tensors[0]!;
  assert.equal(new DataView(f8.buffer, r.offset).getFloat64(8 * 11, true), 5.5);
  assert.equal((await readNpyLayout(bufferSource(fx('u4_2x3_fortran')))).metadata.fortran_order, 'True');
});

test('npy: hostile headers', async () => {
  const b = fx('i2_2x3_v1');
  await rejectsWith(readNpyLayout(bufferSource(b.subarray(0, b.length - 1))), 'E_TRUNCATED');
  const extra = new Uint8Array(b.length + 2);
  extra.set(b);
  await rejectsWith(readNpyLayout(bufferSource(extra)), 'E_CORRUPT', /needs 12/);
  const big = b.slice();
  new DataView(big.buffer).setUint16(8, 60000, true);
  await rejectsWith(readNpyLayout(bufferSource(big)), 'E_LIMIT');
  const be = b.slice();
  be[21] = '>'.charCodeAt(0);
  await rejectsWith(readNpyLayout(bufferSource(be)), 'E_FORMAT', /big-endian/);
  const hdr = (h: string) => {
    const t = new TextEncoder().encode(h);
    const out = new Uint8Array(10 + t.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(out.buffer).setUint16(8, t.length, true);
    out.set(t, 10);
    return out;
  };
  await rejectsWith(readNpyLayout(bufferSource(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }"))), 'E_LIMIT');
  await rejectsWith(readNpyLayout(bufferSource(hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}"))), 'E_CORRUPT', /other than/);
  await rejectsWith(readNpyLayout(bufferSource(hdr("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}"))), 'E_CORRUPT');
  await rejectsWith(readNpyLayout(bufferSource(hdr("{'descr': '<f4', 'fortran_order': False}"))), 'E_CORRUPT', /shape/);
});

test('npy: fuzzing gives ZipmlError or a sane layout', async () => {
  for (const k of Object.keys(FIXTURES) as (keyof typeof FIXTURES)[]) {
    const r = await fuzzLayout(fx(k), 600, 5, (s) => readNpyLayout(s));
    assert.ok(r.rejected > 300, `${k}: ${r.rejected} rejected`);
  }
});
