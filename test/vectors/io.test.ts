/**
 * Vector file readers: real files from ../shared/data where present, numpy- and h5py-written
 * fixtures, writer round trips, hostile headers, and 10,000 mutations per binary format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ZipmlError, isZipmlError, type ZipmlErrorCode } from '../../src/core/errors.js';
import { DEFAULT_MAX_BYTES, MAX_DIM, toFloat32, type VectorData } from '../../src/vectors/io/common.js';
import { encodeBvecs, encodeFvecs, encodeIvecs, parseBvecs, parseFvecs, parseIvecs } from '../../src/vectors/io/vecs.js';
import { encodeNpy, parseNpy } from '../../src/vectors/io/npy.js';
import { parseIdx } from '../../src/vectors/io/idx.js';
import { encodeTextVectors, parseTextVectors } from '../../src/vectors/io/text.js';
import { encodeRawF32, parseRawF32 } from '../../src/vectors/io/raw.js';
import { parseAnnHdf5, readAnnHdf5File, type AnnDataset } from '../../src/vectors/io/hdf5.js';
import { formatFromPath, readFileBounded, readVectorFile, writeVectorFile } from '../../src/vectors/io/files.js';
import { Rng } from '../util/rng.js';
import { bytesEqual, fuzzDecoder, mutate } from '../util/mutate.js';

const DATA = '../shared/data';
const FUZZ = 10_000;

/** The shared file at `rel`, or undefined after registering a skip that names the missing path. */
function shared(t: { skip(msg: string): void }, rel: string): string | undefined {
  const p = join(DATA, rel);
  if (existsSync(p)) return p;
  t.skip(`missing ${p} (shared data not present)`);
  return undefined;
}

function rejects(fn: () => unknown, code: ZipmlErrorCode, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isZipmlError(e, code), `expected ${code}, got ${(e as Error)?.constructor?.name} ${(e as ZipmlError)?.code}: ${(e as Error)?.message}`);
    if (pattern) assert.match((e as Error).message, pattern);
    return true;
  });
}

async function rejectsAsync(p: Promise<unknown>, code: ZipmlErrorCode, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isZipmlError(e, code), `expected ${code}, got ${(e as ZipmlError)?.code}: ${(e as Error)?.message}`);
    if (pattern) assert.match((e as Error).message, pattern);
    return true;
  });
}

/** Runs fn and checks it allocated no large buffer on the way to its error. */
function rejectsCheaply(fn: () => unknown, code: ZipmlErrorCode, pattern?: RegExp): void {
  const before = process.memoryUsage().arrayBuffers;
  rejects(fn, code, pattern);
  assert.ok(process.memoryUsage().arrayBuffers - before < 32 << 20, 'a hostile header allocated more than 32 MiB');
}

function randomMatrix(rng: Rng, n: number, d: number): Float32Array {
  return Float32Array.from({ length: n * d }, () => rng.normal());
}

const b64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));
const sameValues = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => Object.is(v, b[i]));

/** .npy files written by numpy 1.24 (np.save; np.lib.format.write_array for v2/v3), base64. */
const NPY: Record<string, string> = {
  f4_2d:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsIDQpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAKC/AABAvwAAgL4AAIA+AABAPwAAoD8AAOA/AAAQQAAAMEAAAFBAAABwQAAAiEA=',
  f8_1d:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDUsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAADwPwAAAAAAAATA/Knx0k1iUD+t34zHM/nvR5x1AIg85Dd+',
  i8_2d:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAACA/////wAAAAAAAAAA////fwAAAAAFAAAAAAAAAPn/////////CQAAAAAAAAA=',
  i8_big:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDEsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAAAAAAAAAIAAAAAA',
  i4_2d:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAA/v///wMAAAD8////////fwAAAIA=',
  u1_2d:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDUpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAQID/wkIBwaA',
  f2_2d:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAPAC4/3sBAAB8AIA=',
  f4_fortran:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMywgMiksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAQAAAgEAAAIA/AABAQAAAoEA=',
  f4_v2:
    'k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywgNCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAKC/AABAvwAAgL4AAIA+AABAPwAAoD8AAOA/AAAQQAAAMEAAAFBAAABwQAAAiEA=',
  f4_v3:
    'k05VTVBZAwB0AAAAeydkZXNjcic6ICc8ZjQnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywgNCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAKC/AABAvwAAgL4AAIA+AABAPwAAoD8AAOA/AAAQQAAAMEAAAFBAAABwQAAAiEA=',
  f4_3d:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPwAAAEAAAEBAAACAQAAAoEAAAMBAAADgQAAAAEEAABBBAAAgQQAAMEE=',
  f4_be:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsIDQpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAq/oAAAv0AAAL6AAAA+gAAAP0AAAD+gAAA/4AAAQBAAAEAwAABAUAAAQHAAAECIAAA=',
  f4_empty:
    'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsIDcpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=',
};

/**
 * ann-benchmarks-style HDF5 files written by h5py 3.7 (HDF5 1.10), gzip + base64. ANN: train 20 x 6
 * and test 4 x 6 f32 (normal, seed 7), neighbors 4 x 5 int32 (brute-force L2), distances 4 x 5 f32
 * (L2), attributes distance='euclidean', point_type='float', dimension=6, type='dense'. ANN2: the
 * same vectors as f64 (train chunked and gzip-filtered), neighbors int64, squared distances f64,
 * distance='angular'.
 */
const ANN_H5_GZ =
  'H4sIAAAAAAACA+v0cHHj5ZLiYgABDg4GFgYBBmTwHwoUlFD5MPkEKM0IpTug9AommDgbWE4CKi4ANV+BGcJ3gGoMCXJ1Ban+jwZg' +
  '9hSwQmgOhlEwEoGHq2MAiI6A8i2g9AkmVHUlRYmZeSA6tbgExM9LzUzPSMovKobKp2QWlyTmJacWo6VbBRz2CkLTK3q65mFwgOpn' +
  'ZRABpsqSyoJUEF+SkRGsQwBuNgeKPaxIiZgRbI4HlM0JNgfmPpj9hMzjRDKPCWyeBVSeC8gGmZebmlecmZ8Hy38cMOUOKOawMcD8' +
  'BXMPN9g9BfmZeSXxMN+R5j9maPgwIilgZNCA0EwQARE0+9H5zMCSA6RSUEEeWDZBYkqcg0G8Hm4fB1ieiQliIAe0pGFmhBU5DxhR' +
  'Y7RiQNNxsJ+/CyPQJxqw+FDErx5WbuJMoPByFQJ2sOFXBys/E1iGdnlAKF2xoKUjFqqlqweSqDXf4EhX5AJ3Z38fRqQEhJKPQeUl' +
  'sPRIhZYt8PIGCFJLk3MyU1IT8xgQeR1ZX1pOfmIJkj0L+EfrsFEwCkbBKBgFo2AUjIJRMApGwSgYBaNgoICk7UIr3a8z7M5E9+y7' +
  '8jd5/5xTL/b13KndrxxZZqvTs9q+junPvsLrcvunnPll93TnNrvcx9dt1Y3z9rcufL8n5b+hvSX/mv1zfV7tc4n+vH8y/9L9P/e+' +
  '3r97d8G+DdaL9ms+7rKLblawu5xlv2+6kOKB4885979d4ba3m++Fbe3tw/tF5nzZZ9VQtf8rv//+9tPt9jN2+e2vNmXdm5CeZH89' +
  'TXT/v8NP9rJZP7JlXdBku/DcnP2Z72fbvn271v4ax7H9jQwx9o/yv9imm6vsv8zG4FCi7Gzv0zRz//fZM2zfLRS2lwpw3Gd6Wc/e' +
  'xqpj754LWvZNijvsTX7o7J/IHGC33OztvuVBTHb/vk7fL+Mrsn/mc499KaJp9oumTbKPyVy5f32u9/6y2ar2c9n/75+l8nZfnN3x' +
  'vfeeLrA/VmNg39KxfN/vrXv2zZVs2MfMfNheTO32vv/Vs/f1tW2xqw/7vvcBi9e+gzP79ncdsdkjIvt431rnqfbnDdTtr5w4uodV' +
  'Wts+iXndPpE1bfZn3m3Y3RMhav/Xeul+noaNdsLiN/ZfcWI6kPpk9r4ViWn7S/+q20ms4nc4/zpk/5Fd8vszQ4PsbHP+2J1ebLIv' +
  '/X7QvrlXjO1XS7Da1/q37L+ouWjvxw4B26ifbfsXcrbacS6O3h97s8JeP97VLujZNttFvuL7t778tFd92//93y5O2K98bKddoRXH' +
  'gbDdEfbiDff3z93paF9XFLH/W7a7vbAEmx3T9iP7pZ/Mt7/TucN+55G2vQftevZpbVHeN3Vx5f66eT32339x7edaG7i3UtR7Pxc0' +
  'HQkDsRB0GAk0FgQa7gGNtfEyQMbeeKDyTFC1fEDMBRWH6QWBQ3VT7V1iWB167OQcgtr1HLRm6DusC5V1SO3VcejXNXEQ/ufgwLDT' +
  'zYHL8oG93bL/9t4zmB3mnDRyOHDJyKHx1FH7s/cv2Oduu2GvnPHKnjH6t/1oDh8Fo2AUjALsgNh5FNi4PjqfGVjig1SC5hVh8ygQ' +
  'eVzzJw5SEJ0BaC5pGCbhQe680gQc4TKw80oA3FRYsyAiAAA=';
const ANN2_H5_GZ =
  'H4sIAAAAAAACA+v0cHHj5ZLiYgABDg4GFgYBBmTwHwoidFD5MPkEKM0IpTug9AommDgLWE4CKi4ANV+BGcLfARUPCXJ1Ban+jwZg' +
  '9rxggdAcDKNgJAIPV8cAEB0B5VtA6RNMqOpKihIz80B0anEJiJ+XmpmekZRfVAyVT8ksLknMS04tRku3CjjsFYSmV/R0zcPgAdXP' +
  'ySACTJUwc2H6JBkZwToF4HZwoNjHjpSYGVHM4wabV5CfmVcSX1JZkEqceaxI5jGBxdkgcowwOzQgNBNEQASqjw1Ko/OZgTkWpFJQ' +
  'wR5qrAODCTeDyX9mmH0cYHkmZogN3MAQBDEY4faB5BkZUlLTchJLUhmg2RcoCikJmJmYYWUCF9RaqOsDaJJ+gv38XUBlkQYsPWnj' +
  'Vw8rryy08KuDlZYGbPjVwcqtG8xDOx8yAmMeX7piQUtHLOSmKyaIgfD0wvhCBaLiAJqLKkYLRwqAu7O/DyNSQkYpn4AgMS+9NCex' +
  'iIEJuZwBgrSc/MQSJHMO8I+G5SgYBaNgFIyCUTAKRsEoGAWjYBSMglEwWAFo3J0R2LtHH3cPY8Svz0IJQkdB1XHhUNenjMqHqYON' +
  'B42O54+CUTAKRsEoGAWjYBQMDVARl5yQEBCxRi7p/IEDGxJW3kkVuBtws7bQvuNe6H82H3bve6yXhcv3s1/k1Fp+vfHqVrE61ovs' +
  'f6TfNR8RvXe3iifMXPOT3Q2b2a+vHyh5Nz9W4ZfjqY3bFX6yssU/a7q6d2M9m1B4xb0fojp2N4WT/N2+2W+wnS9Wxzh79/4/+jPi' +
  '9er4XIyn7HQ+Epys1/RFPYVbhvFyYH5/8xF5Fs2NMgwX7XPkms5O3buLac1/pcdxE3ax/rxqf+Cbie8+9kWyN5gP/Iv68P6h94Z/' +
  'TfPlHV5JNK1v/sn5erouw+3fx57zevw5uNa03+EP81fjbw0vWb7bJhRLOpk1ZLRqG9uDnH4tj637/V1uTvWVzQnVoixScc0/+Oqr' +
  'vjeerb78jSXnvO4CiQl5J7wrGYXyP5gwzP68wE8i5xzj7UnuCbVnotQdHnFfyrNlXV2cfp/jkXmHe+NPPjad+wcf5Xye/46dQfnD' +
  '8oqKONUJ97WdCyWO7X/MnyCuZ2D1XX1pQNHm4KBbS2M6Zi/e+WVxy6wrfnnXuhZ57t5gZbawTVpE01q3M3DZ3IkX9smazbxa5675' +
  'uDbGtnbe99p5729PN1Tz2dQx1fDY17PPBTL3+ypfc7JnTVJ9YObRuuip0B7hcxdiLv3mWtJ1I8jtXcGbuSHS9+tV43U/cW18ctNh' +
  'fdnXMhbbjVMuvF/rqRg/+/rJ6c6rvy/Jii4V0Tkdf4O732bRfUtB539lL/tq6ibbqaZlC70Tskqu3LP9TelErbrfwr+WbS9UX+//' +
  'UG/pwxvc8dvUO5cG6vb9/VnB97l9meQGywyB1efWCt240lWeuviVtM2N0yaz9M881LtWONfxfdzTnm8R5TdV/nKW/7h0Q/5HjaJo' +
  'We6P/KtbZzjMT346p2aeZJfC+5lH958oZezbu8a6PSb8POOWm2/U44WE/9f9rpoSITHvl0NczhmhzykfDv3iZvy15i4wyTqcurPN' +
  'HkRvefloP5BeYBa7D0Q/OPLtP4g+YCf1CUQnHLG4DlKn4MfOeAAkniX+GsR/wPThN1ifsfkLEP+AP99rsL66t2B+AtPhA2DzH0z7' +
  'ATan+c9nEL/BWvA72LzpNzaAxBVutF8E0Q6tZUfA5hWZvAebc37yR7A9cfEPwfILTVeB1a9PerkfvX8lDKWFoDRsHQJseQE/Wj+L' +
  'F0rD5uN50PQzoZnLh9Zf48FhLwzMmrnOnuFTl0P7osMOZT/eOpx49MEhI+Wgw5w5LxyMF/x1kKgTdNzoJOV4L9nFYY5PvUO+V7vD' +
  '950/HZou/3TwuijhUJij5RBVYu7QvSjMYerpMofREnYUjILBC4hdB8SKVu6wwsspAbBWAQ4G+DogiDyu9T8rVCE6F6C5pGGYhAds' +
  'XZQ8VE6BQZyDQbwerg5XuHioQVSgr5sb2HVRAJEHZ51YLAAA';

// ---------------------------------------------------------------------------------------------
// fvecs / ivecs / bvecs

/** An independent reading of TEXMEX bytes (or undefined where the format says no). */
function refVecs(bytes: Uint8Array, elt: number): { n: number; d: number; payload: Uint8Array } | undefined {
  if (bytes.length === 0) return { n: 0, d: 0, payload: new Uint8Array(0) };
  if (bytes.length < 4) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const d = dv.getInt32(0, true);
  if (d <= 0 || d > MAX_DIM || bytes.length % (4 + d * elt) !== 0) return undefined;
  const n = bytes.length / (4 + d * elt);
  const payload = new Uint8Array(n * d * elt);
  for (let i = 0; i < n; i++) {
    if (dv.getInt32(i * (4 + d * elt), true) !== d) return undefined;
    payload.set(bytes.subarray(i * (4 + d * elt) + 4, (i + 1) * (4 + d * elt)), i * d * elt);
  }
  return { n, d, payload };
}

const bytesOf = (v: VectorData) => new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);

test('vecs: hand-laid bytes parse, and the writers lay out the same bytes', () => {
  const vals = [1.5, -2, 0.25, 3, 4, -0];
  const f = new Uint8Array(32), iv = new Uint8Array(32), bv = new Uint8Array(14);
  const fd = new DataView(f.buffer), id = new DataView(iv.buffer), bd = new DataView(bv.buffer);
  for (let i = 0; i < 2; i++) {
    fd.setInt32(i * 16, 3, true);
    id.setInt32(i * 16, 3, true);
    bd.setInt32(i * 7, 3, true);
    for (let j = 0; j < 3; j++) {
      fd.setFloat32(i * 16 + 4 + 4 * j, vals[i * 3 + j]!, true);
      id.setInt32(i * 16 + 4 + 4 * j, ((i * 3 + j) * -1000003) | 0, true);
      bv[i * 7 + 4 + j] = 250 + i * 3 + j - 6;
    }
  }
  const fv = parseFvecs(f);
  assert.deepEqual([fv.n, fv.d], [2, 3]);
  assert.ok(sameValues(fv.data, vals));
  assert.ok(bytesEqual(encodeFvecs(fv.data, 3), f));
  const ivv = parseIvecs(iv);
  assert.deepEqual(Array.from(ivv.data), [0, 1, 2, 3, 4, 5].map((k) => (k * -1000003) | 0));
  assert.ok(bytesEqual(encodeIvecs(ivv.data, 3), iv));
  const bvv = parseBvecs(bv);
  assert.deepEqual(Array.from(bvv.data), [244, 245, 246, 247, 248, 249]);
  assert.ok(bytesEqual(encodeBvecs(bvv.data, 3), bv));
  assert.deepEqual(parseFvecs(new Uint8Array(0)), { data: new Float32Array(0), n: 0, d: 0 });
});

test('vecs: mixed dimensions, bad and huge dimensions, truncation and limits are errors', () => {
  const f = encodeFvecs(new Float32Array(6), 3);
  const mixed = f.slice();
  new DataView(mixed.buffer).setInt32(16, 4, true);
  rejects(() => parseFvecs(mixed), 'E_CORRUPT', /vector 1 declares dimension 4/);
  const negative = f.slice();
  new DataView(negative.buffer).setInt32(0, -5, true);
  rejects(() => parseFvecs(negative), 'E_CORRUPT', /dimension -5/);
  const huge = new Uint8Array(12);
  new DataView(huge.buffer).setInt32(0, 0x7fffffff, true);
  rejectsCheaply(() => parseFvecs(huge), 'E_LIMIT', /dimension 2147483647/);
  rejectsCheaply(() => parseBvecs(huge), 'E_LIMIT');
  rejects(() => parseFvecs(f.subarray(0, f.length - 1)), 'E_TRUNCATED', /inside vector 1/);
  rejects(() => parseFvecs(f.subarray(0, 3)), 'E_TRUNCATED');
  rejects(() => parseFvecs(f, { maxBytes: 20 }), 'E_LIMIT');
  rejects(() => encodeFvecs(new Float32Array(7), 3), 'E_ARG');
  rejects(() => encodeIvecs(new Int32Array(3), 0), 'E_ARG');
});

test('vecs: real vectors round trip (MNIST pixels as bvecs, Cohere embeddings as fvecs)', (t) => {
  const mnist = shared(t, 'vectors/mnist/t10k-images-idx3-ubyte.gz');
  const cohere = shared(t, 'vectors/cohere_wiki_768/cohere_1k_vectors');
  if (!mnist || !cohere) return;
  return (async () => {
    const img = parseIdx(await readFileBounded(mnist, DEFAULT_MAX_BYTES)).data as Uint8Array;
    const bv = parseBvecs(encodeBvecs(img, 784));
    assert.deepEqual([bv.n, bv.d], [10000, 784]);
    assert.ok(bytesEqual(bv.data, img));
    const emb = parseRawF32(await readFileBounded(cohere, DEFAULT_MAX_BYTES), 768).data;
    const fv = parseFvecs(encodeFvecs(emb, 768));
    assert.deepEqual([fv.n, fv.d], [1000, 768]);
    assert.ok(bytesEqual(bytesOf(fv), bytesOf({ data: emb, n: 1000, d: 768 })));
    const ids = Int32Array.from({ length: 1000 * 100 }, (_, i) => (i * 7919) % 1000);
    assert.ok(sameValues(parseIvecs(encodeIvecs(ids, 100)).data, ids));
  })();
});

for (const [kind, elt, encode, parse] of [
  ['fvecs', 4, (r: Rng) => encodeFvecs(randomMatrix(r, 12, 5), 5), parseFvecs],
  ['ivecs', 4, (r: Rng) => encodeIvecs(Int32Array.from({ length: 60 }, () => r.u32() | 0), 5), parseIvecs],
  ['bvecs', 1, (r: Rng) => encodeBvecs(r.bytes(60), 5), parseBvecs],
] as const) {
  test(`${kind}: ${FUZZ} mutations give a ZipmlError or exactly what the bytes say`, () => {
    const valid = encode(new Rng(11));
    let input: Uint8Array = valid;
    const r = fuzzDecoder(valid, FUZZ, 0x5eed + elt, (b) => parse((input = b)), (out: VectorData) => {
      const ref = refVecs(input, elt);
      return !!ref && out.n === ref.n && out.d === ref.d && bytesEqual(bytesOf(out), ref.payload);
    });
    assert.ok(r.rejected > FUZZ / 4 && r.accepted > 100, `rejected ${r.rejected}, accepted ${r.accepted}`);
  });
}

// ---------------------------------------------------------------------------------------------
// .npy

const npy = (k: string) => b64(NPY[k]!);

/** An npy header as numpy would write it, for crafted files. */
function npyBytes(header: string, data = new Uint8Array(0), version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  const out = new Uint8Array(pre + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[pre + i] = header.charCodeAt(i);
  out.set(data, pre + header.length);
  return out;
}
const dict = (descr: string, shape: string, fortran = 'False') => `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;

test('npy: files numpy wrote parse to numpy\'s values', () => {
  const arange = (n: number, f = (i: number) => i) => Array.from({ length: n }, (_, i) => f(i));
  const f4 = arange(12, (i) => i * 0.5 - 1.25);
  for (const k of ['f4_2d', 'f4_v2', 'f4_v3']) {
    const a = parseNpy(npy(k));
    assert.deepEqual([a.n, a.d, a.descr, a.shape], [3, 4, '<f4', [3, 4]], k);
    assert.ok(a.data instanceof Float32Array && sameValues(a.data, f4), k);
  }
  const f8 = parseNpy(npy('f8_1d'));
  assert.deepEqual([f8.n, f8.d, f8.descr], [5, 1, '<f8']);
  assert.ok(sameValues(f8.data, [1, -2.5, Math.fround(1e-3), Math.fround(3.4e38), Infinity]));
  const i8 = parseNpy(npy('i8_2d'));
  assert.ok(i8.data instanceof Int32Array && sameValues(i8.data, [-(2 ** 31), 0, 2 ** 31 - 1, 5, -7, 9]));
  rejects(() => parseNpy(npy('i8_big')), 'E_LIMIT', /element 1 is outside the int32 range/);
  const i4 = parseNpy(npy('i4_2d'));
  assert.ok(i4.data instanceof Int32Array && sameValues(i4.data, [1, -2, 3, -4, 2 ** 31 - 1, -(2 ** 31)]));
  const u1 = parseNpy(npy('u1_2d'));
  assert.ok(u1.data instanceof Uint8Array && sameValues(u1.data, [0, 1, 2, 3, 255, 9, 8, 7, 6, 128]));
  const f2 = parseNpy(npy('f2_2d'));
  assert.ok(f2.data instanceof Float32Array && sameValues(f2.data, [1, -0.5, 65504, 2 ** -24, Infinity, -0]));
  const fortran = parseNpy(npy('f4_fortran'));
  assert.deepEqual([fortran.n, fortran.d], [3, 2]);
  assert.ok(sameValues(fortran.data, [0, 1, 2, 3, 4, 5]), 'Fortran order is transposed to rows');
  const d3 = parseNpy(npy('f4_3d'));
  assert.deepEqual([d3.n, d3.d, d3.shape], [2, 6, [2, 2, 3]]);
  assert.ok(sameValues(d3.data, arange(12)));
  const empty = parseNpy(npy('f4_empty'));
  assert.deepEqual([empty.n, empty.d, empty.data.length], [0, 7, 0]);
  rejects(() => parseNpy(npy('f4_be')), 'E_FORMAT', /big-endian/);
});

test('npy: the writer is byte for byte numpy.save, and round trips', () => {
  for (const k of ['f4_2d', 'i4_2d', 'u1_2d', 'f4_empty']) {
    const a = parseNpy(npy(k));
    assert.ok(bytesEqual(encodeNpy(a.data, a.shape), npy(k)), k);
  }
  const rng = new Rng(3);
  for (const shape of [[17], [5, 9], [2, 3, 4], [0, 3], [1, 1]]) {
    const x = randomMatrix(rng, 1, shape.reduce((a, b) => a * b, 1));
    const bytes = encodeNpy(x, shape);
    assert.equal(bytes.indexOf(0x0a) % 64, 63, 'data starts on a 64-byte boundary');
    const back = parseNpy(bytes);
    assert.deepEqual(back.shape, shape);
    assert.ok(sameValues(back.data, x));
  }
  rejects(() => encodeNpy(new Float32Array(5), [2, 3]), 'E_ARG');
  rejects(() => encodeNpy(new Float64Array(2) as unknown as Float32Array, [2]), 'E_ARG');
});

test('npy: hostile and malformed headers are refused before any allocation', () => {
  rejectsCheaply(() => parseNpy(npyBytes(dict('<f4', '(1099511627776, 1099511627776)'))), 'E_LIMIT', /element count/);
  rejectsCheaply(() => parseNpy(npyBytes(dict('<f8', '(9007199254740993, 2)'))), 'E_LIMIT');
  rejectsCheaply(() => parseNpy(npyBytes(dict('<f4', '(100000, 1000)'))), 'E_TRUNCATED', /needs 400000000 data bytes/);
  rejectsCheaply(() => parseNpy(npyBytes(dict('<f4', '(1, 2, 3, 4, 5, 6, 7, 8, 9)'))), 'E_LIMIT', /axes/);
  rejectsCheaply(() => parseNpy(npyBytes(dict('<f4', `(1, ${2 ** 21})`))), 'E_TRUNCATED');
  rejectsCheaply(() => parseNpy(npyBytes(dict('<f4', `(0, ${2 ** 21})`))), 'E_LIMIT', /row size/);
  const long = npyBytes(dict('<f4', '(1, 1)'), new Uint8Array(4), 2);
  new DataView(long.buffer).setUint32(8, 0xffffffff, true);
  rejectsCheaply(() => parseNpy(long), 'E_LIMIT', /header of 4294967295 bytes/);
  rejects(() => parseNpy(npyBytes(dict('<f4', '(-1, 3)'))), 'E_CORRUPT', /unexpected character "-"/);
  rejects(() => parseNpy(npyBytes(dict('<f4', '()'))), 'E_FORMAT', /0-d/);
  rejects(() => parseNpy(npyBytes(dict('<f4', '(1, 1, 1)', 'True'), new Uint8Array(4))), 'E_FORMAT', /Fortran/);
  rejects(() => parseNpy(npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }")), 'E_FORMAT', /structured/);
  rejects(() => parseNpy(npyBytes("{'descr': '<f4', 'shape': (1,), }")), 'E_CORRUPT', /keys/);
  rejects(() => parseNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}")), 'E_CORRUPT', /keys/);
  rejects(() => parseNpy(npyBytes("{'descr': '<f4', 'descr': '<f4', 'shape': (1,)}")), 'E_CORRUPT', /repeats/);
  rejects(() => parseNpy(npyBytes(dict('<c8', '(1,)'))), 'E_FORMAT', /'<c8'/);
  rejects(() => parseNpy(npyBytes(dict('<f4', '(1,)') + ' junk')), 'E_CORRUPT');
  rejects(() => parseNpy(npyBytes(dict('<f4', '(1,)'), new Uint8Array(8))), 'E_CORRUPT', /4 bytes after/);
  const v4 = npy('f4_2d');
  v4[6] = 4;
  rejects(() => parseNpy(v4), 'E_FORMAT', /version 4.0/);
  rejects(() => parseNpy(npy('f4_2d').subarray(0, 60)), 'E_TRUNCATED');
  rejects(() => parseNpy(new Uint8Array(12)), 'E_FORMAT', /magic/);
});

/** Independent decoding of the data bytes of an npy array of a fixture's dtype. */
function refNpyValues(descr: string, data: Uint8Array): number[] | undefined {
  const dv = new DataView(data.buffer, data.byteOffset, data.length);
  const out: number[] = [];
  if (descr === '<f2') {
    for (let i = 0; i + 2 <= data.length; i += 2) {
      const h = dv.getUint16(i, true), s = h >> 15 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
      out.push(e === 31 ? (m ? NaN : s * Infinity) : e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15));
    }
  } else if (descr === '<i8') {
    for (let i = 0; i + 8 <= data.length; i += 8) {
      const v = dv.getBigInt64(i, true);
      if (v < -(2n ** 31n) || v >= 2n ** 31n) return undefined;
      out.push(Number(v));
    }
  } else for (let i = 0; i + 4 <= data.length; i += 4) out.push(dv.getFloat32(i, true));
  return out;
}

for (const [fixture, count] of [['f4_2d', FUZZ], ['i8_2d', 2000], ['f2_2d', 2000]] as const) {
  test(`npy: ${count} mutations of ${fixture} give a ZipmlError or exactly what the bytes say`, () => {
    const valid = npy(fixture);
    const orig = parseNpy(valid);
    const dataBytes = valid.length - 128;
    let input: Uint8Array = valid;
    const r = fuzzDecoder(valid, count, 0x4e9, (b) => parseNpy((input = b)), (out) => {
      const ref = refNpyValues(orig.descr, input.subarray(input.length - dataBytes));
      return out.n === orig.n && out.d === orig.d && out.descr === orig.descr && !!ref && sameValues(out.data, ref);
    });
    assert.ok(r.rejected > count / 4 && r.accepted > count / 40, `rejected ${r.rejected}, accepted ${r.accepted}`);
  });
}

// ---------------------------------------------------------------------------------------------
// MNIST IDX

/** IDX bytes: type code, big-endian axis sizes, then `payload` as is. */
function idxBytes(type: number, shape: number[], payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + payload.length);
  out.set([0, 0, type, shape.length]);
  const dv = new DataView(out.buffer);
  shape.forEach((s, i) => dv.setUint32(4 + 4 * i, s, false));
  out.set(payload, 4 + 4 * shape.length);
  return out;
}

test('idx: the real MNIST test images and labels, gzip and raw', (t) => {
  const images = shared(t, 'vectors/mnist/t10k-images-idx3-ubyte.gz');
  const labels = shared(t, 'vectors/mnist/t10k-labels-idx1-ubyte.gz');
  if (!images || !labels) return;
  return (async () => {
    const gz = await readFileBounded(images, DEFAULT_MAX_BYTES);
    const raw = new Uint8Array(gunzipSync(gz));
    assert.equal(createHash('md5').update(raw).digest('hex'), '2646ac647ad5339dbf082846283269ea', 'the manifest\'s md5');
    const a = parseIdx(gz);
    assert.deepEqual([a.n, a.d, a.type, a.shape], [10000, 784, 'u8', [10000, 28, 28]]);
    assert.ok(bytesEqual(a.data as Uint8Array, raw.subarray(16)));
    assert.ok(bytesEqual(parseIdx(raw).data as Uint8Array, raw.subarray(16)));
    const l = parseIdx(await readFileBounded(labels, DEFAULT_MAX_BYTES));
    assert.deepEqual([l.n, l.d, l.shape], [10000, 1, [10000]]);
    assert.deepEqual(Array.from(l.data.subarray(0, 10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    const f = toFloat32(a);
    assert.equal(f.length, 7840000);
    assert.equal(f[7 * 28 + 10 + 784 * 0], raw[16 + 7 * 28 + 10]);
  })();
});

test('idx: every element type, big-endian, becomes rows of the right array type', () => {
  const be = (size: number, vals: number[], set: (dv: DataView, at: number, v: number) => void) => {
    const b = new Uint8Array(vals.length * size);
    const dv = new DataView(b.buffer);
    vals.forEach((v, i) => set(dv, i * size, v));
    return b;
  };
  const vals = [-3, 100, -128, 127, 0, 1];
  const cases: Array<[number, number, (dv: DataView, at: number, v: number) => void, number[]]> = [
    [0x09, 1, (dv, at, v) => dv.setInt8(at, v), vals],
    [0x0b, 2, (dv, at, v) => dv.setInt16(at, v * 200, false), vals.map((v) => v * 200)],
    [0x0c, 4, (dv, at, v) => dv.setInt32(at, v * 1e7, false), vals.map((v) => v * 1e7)],
    [0x0d, 4, (dv, at, v) => dv.setFloat32(at, v / 8, false), vals.map((v) => v / 8)],
    [0x0e, 8, (dv, at, v) => dv.setFloat64(at, v / 3, false), vals.map((v) => Math.fround(v / 3))],
  ];
  for (const [type, size, set, want] of cases) {
    const v = parseIdx(idxBytes(type, [2, 3], be(size, vals, set)));
    assert.deepEqual([v.n, v.d], [2, 3]);
    assert.ok(sameValues(v.data, want), `type 0x${type.toString(16)}: ${Array.from(v.data)}`);
    assert.ok(type >= 0x0d ? v.data instanceof Float32Array : v.data instanceof Int32Array);
  }
});

test('idx: hostile headers and gzip bombs are refused without allocating', () => {
  rejectsCheaply(() => parseIdx(idxBytes(0x08, [65536, 65536, 65536])), 'E_LIMIT', /element count/);
  rejectsCheaply(() => parseIdx(idxBytes(0x0e, [0xffffffff, 0xffffffff])), 'E_LIMIT');
  rejectsCheaply(() => parseIdx(idxBytes(0x08, [1000, 1000], new Uint8Array(16))), 'E_TRUNCATED', /needs 1000012 bytes/);
  rejectsCheaply(() => parseIdx(idxBytes(0x08, [1, 2 ** 21], new Uint8Array(2 ** 21))), 'E_LIMIT', /row size/);
  const many = new Uint8Array(4 + 4 * 200);
  many.set([0, 0, 8, 200]);
  rejects(() => parseIdx(many), 'E_LIMIT', /200 axes/);
  rejects(() => parseIdx(idxBytes(0x08, [2], new Uint8Array(3))), 'E_CORRUPT', /1 bytes after/);
  rejects(() => parseIdx(idxBytes(0x0a, [2], new Uint8Array(2))), 'E_FORMAT', /type code 0xa/);
  rejects(() => parseIdx(idxBytes(0x08, [])), 'E_FORMAT', /zero axes/);
  rejects(() => parseIdx(new Uint8Array([1, 0, 8, 1, 0, 0, 0, 0])), 'E_FORMAT', /magic/);
  rejects(() => parseIdx(idxBytes(0x08, [3, 4]).subarray(0, 9)), 'E_TRUNCATED');

  // 64 MiB of zeros behind an honest header: the declared size is over the limit.
  const big = gzipSync(idxBytes(0x08, [64, 1 << 20], new Uint8Array(64 << 20)));
  rejectsCheaply(() => parseIdx(big, { maxBytes: 1 << 20 }), 'E_LIMIT', /exceeds the limit of 1048576/);
  const f64 = gzipSync(idxBytes(0x0e, [1, 200000], new Uint8Array(1_600_000)));
  rejectsCheaply(() => parseIdx(f64, { maxBytes: 1 << 20 }), 'E_LIMIT', /declares 1600012 bytes/);
  // A header that declares 16 bytes in front of 64 MiB: inflation stops at the declared size.
  const lying = gzipSync(Buffer.concat([idxBytes(0x08, [1, 16], new Uint8Array(16)), Buffer.alloc(64 << 20)]));
  rejectsCheaply(() => parseIdx(lying), 'E_CORRUPT', /expands past 28 bytes/);
  // gzip in gzip: refused at the first layer, before the inner one is inflated.
  rejectsCheaply(() => parseIdx(gzipSync(big)), 'E_LIMIT', /gzip inside gzip/);
  const ok = gzipSync(idxBytes(0x08, [2, 2], new Uint8Array([1, 2, 3, 4])));
  assert.deepEqual(Array.from(parseIdx(ok).data), [1, 2, 3, 4]);
  rejects(() => parseIdx(ok.subarray(0, ok.length - 3)), 'E_TRUNCATED');
  const badCrc = ok.slice();
  badCrc[badCrc.length - 6]! ^= 1;
  rejects(() => parseIdx(badCrc), 'E_CORRUPT', /gzip/);
});

test(`idx: ${FUZZ} mutations of a raw and of a gzip IDX file each give a ZipmlError or the right rows`, () => {
  const rng = new Rng(21);
  const payload = rng.bytes(5 * 3 * 4);
  const raw = idxBytes(0x08, [5, 3, 4], payload);
  let input: Uint8Array = raw;
  const r1 = fuzzDecoder(raw, FUZZ, 0x1d3, (b) => parseIdx((input = b)), (out) => {
    // Accepted: the same shape (another with this length would need two changes), the payload
    // read as u8 or, after a flip of the type code to 0x09, as i8.
    const body = input.subarray(16);
    const want = out.type === 'i8' ? new Int8Array(body.buffer, body.byteOffset, body.length) : body;
    return out.n === 5 && out.d === 12 && (out.type === 'u8' || out.type === 'i8') && sameValues(out.data, want);
  });
  assert.ok(r1.rejected > FUZZ / 4 && r1.accepted > FUZZ / 10, `raw: rejected ${r1.rejected}, accepted ${r1.accepted}`);
  // Behind gzip's CRC-32, whatever is accepted must be the original.
  const i16 = new Uint8Array(2 * 4 * 3 * 2);
  new DataView(i16.buffer).setInt16(6, -12345, false);
  const gz = gzipSync(idxBytes(0x0b, [4, 3, 2], i16));
  const want = parseIdx(gz);
  const r2 = fuzzDecoder(new Uint8Array(gz), FUZZ, 0x92, (b) => parseIdx(b), (out) => out.n === 4 && out.d === 6 && sameValues(out.data, want.data));
  assert.ok(r2.rejected > FUZZ / 2, `gzip: rejected ${r2.rejected}, accepted ${r2.accepted}`);
});

// ---------------------------------------------------------------------------------------------
// ann-benchmarks HDF5

const h5fixture = (s: string) => new Uint8Array(gunzipSync(Buffer.from(s, 'base64')));

/** Squared L2 distances of each test row to each train row, and the ids of the k nearest. */
function bruteForce(train: Float32Array, test: Float32Array, d: number, k: number): { ids: number[][]; dist: number[][] } {
  const ids: number[][] = [], dist: number[][] = [];
  for (let q = 0; q < test.length / d; q++) {
    const all = Array.from({ length: train.length / d }, (_, i) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += (test[q * d + j]! - train[i * d + j]!) ** 2;
      return { i, s };
    }).sort((a, b) => a.s - b.s).slice(0, k);
    ids.push(all.map((x) => x.i));
    dist.push(all.map((x) => x.s));
  }
  return { ids, dist };
}

function checkAnnFixture(a: AnnDataset): void {
  assert.deepEqual([a.train.n, a.train.d, a.test.n, a.test.d], [20, 6, 4, 6]);
  assert.ok(a.train.data instanceof Float32Array && a.test.data instanceof Float32Array);
  assert.ok(sameValues(a.train.data.subarray(0, 6), [0.001230153371579945, 0.2987455427646637, -0.27413785457611084,
    -0.8905918598175049, -0.454670786857605, -0.9916465282440186]));
  assert.deepEqual([a.neighbors?.n, a.neighbors?.d, a.distances?.n, a.distances?.d], [4, 5, 4, 5]);
  const bf = bruteForce(a.train.data, a.test.data, 6, 5);
  assert.deepEqual(Array.from(a.neighbors!.data), bf.ids.flat());
  assert.deepEqual(Array.from(a.neighbors!.data.subarray(0, 5)), [10, 0, 19, 18, 16], 'numpy\'s argsort');
  return void bf;
}

test('hdf5: ann-benchmarks files written by h5py parse (f32/i32 plain, f64/i64 chunked+gzip)', async () => {
  const a = await parseAnnHdf5(h5fixture(ANN_H5_GZ));
  checkAnnFixture(a);
  assert.deepEqual([a.distance, a.metric, a.pointType], ['euclidean', 'l2', 'float']);
  const bf = bruteForce(a.train.data as Float32Array, a.test.data as Float32Array, 6, 5);
  bf.dist.flat().forEach((s, i) => assert.ok(Math.abs(a.distances!.data[i]! - Math.sqrt(s)) < 1e-5, `distance ${i}`));

  const b = await parseAnnHdf5(h5fixture(ANN2_H5_GZ));
  checkAnnFixture(b);
  assert.ok(sameValues(b.train.data, a.train.data), 'f64 train is the f32 train exactly');
  assert.deepEqual([b.distance, b.metric, b.pointType], ['angular', 'cos', 'float']);
  bf.dist.flat().forEach((s, i) => assert.ok(Math.abs(b.distances!.data[i]! - s) < 1e-5, `squared distance ${i}`));
});

test('hdf5: the Node file loader reads the same from disk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zipml-h5-'));
  try {
    const p = join(dir, 'ann.hdf5');
    await writeFile(p, h5fixture(ANN_H5_GZ));
    const a = await readAnnHdf5File(p);
    checkAnnFixture(a);
    assert.equal(a.metric, 'l2');
    await rejectsAsync(readAnnHdf5File(p, { maxBytes: 400 }), 'E_LIMIT', /'train' element count/);
    await rejectsAsync(readAnnHdf5File(join(dir, 'missing.hdf5')), 'E_IO', /missing\.hdf5/);
    await writeFile(join(dir, 'bad.hdf5'), new Uint8Array(4096));
    await rejectsAsync(readAnnHdf5File(join(dir, 'bad.hdf5')), 'E_FORMAT', /bad\.hdf5: .*signature/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('hdf5: wrong layouts, ids outside int32 and oversized datasets are refused', async () => {
  const h5 = (await import('h5wasm')).default;
  const { FS } = await h5.ready;
  let k = 0;
  const make = (build: (f: InstanceType<typeof h5.File>) => void): Uint8Array => {
    const name = `/test-${++k}.h5`;
    const f = new h5.File(name, 'w');
    build(f);
    f.close();
    const bytes = FS.readFile(name);
    FS.unlink(name);
    return bytes;
  };
  const vec = (n: number, d: number) => ({ data: new Float32Array(n * d).map((_, i) => i), shape: [n, d] });
  await rejectsAsync(parseAnnHdf5(make((f) => f.create_dataset({ name: 'train', ...vec(3, 2) }))), 'E_FORMAT', /no 'test' dataset/);
  await rejectsAsync(parseAnnHdf5(make((f) => {
    f.create_dataset({ name: 'train', data: new Float32Array(8), shape: [2, 2, 2] });
    f.create_dataset({ name: 'test', ...vec(1, 4) });
  })), 'E_FORMAT', /'train' has shape \(2, 2, 2\)/);
  await rejectsAsync(parseAnnHdf5(make((f) => {
    f.create_dataset({ name: 'train', data: new Int32Array(6), shape: [3, 2] });
    f.create_dataset({ name: 'test', ...vec(1, 2) });
  })), 'E_FORMAT', /unsupported for vectors/);
  await rejectsAsync(parseAnnHdf5(make((f) => {
    f.create_dataset({ name: 'train', ...vec(3, 2) });
    f.create_dataset({ name: 'test', ...vec(1, 3) });
  })), 'E_CORRUPT', /train has d=2, test has d=3/);
  await rejectsAsync(parseAnnHdf5(make((f) => {
    f.create_dataset({ name: 'train', ...vec(3, 2) });
    f.create_dataset({ name: 'test', ...vec(1, 2) });
    f.create_dataset({ name: 'neighbors', data: new BigInt64Array([0n, 1n, 2n ** 40n]), shape: [1, 3] });
  })), 'E_LIMIT', /id 1099511627776 at index 2/);
  // 4 MB of zeros stored as a few KB of gzip chunks: refused from the metadata alone.
  const zeros = make((f) => {
    f.create_dataset({ name: 'train', data: new Float32Array(1000 * 1000), shape: [1000, 1000], chunks: [100, 1000], compression: 'gzip' });
    f.create_dataset({ name: 'test', ...vec(1, 1000) });
  });
  assert.ok(zeros.length < 100_000, `${zeros.length} bytes`);
  await rejectsAsync(parseAnnHdf5(zeros, { maxBytes: 1 << 20 }), 'E_LIMIT', /'train' element count/);
  const ok = await parseAnnHdf5(zeros);
  assert.equal(ok.train.n, 1000);
  assert.equal(ok.neighbors, undefined);
  // ann-benchmarks' bit sets (hamming) store bytes.
  const bits = await parseAnnHdf5(make((f) => {
    f.create_dataset({ name: 'train', data: Uint8Array.from([0, 1, 1, 0, 255, 7]), shape: [3, 2] });
    f.create_dataset({ name: 'test', data: Uint8Array.from([1, 0]), shape: [1, 2] });
    f.create_attribute('distance', 'hamming');
  }));
  assert.ok(bits.train.data instanceof Uint8Array && sameValues(bits.train.data, [0, 1, 1, 0, 255, 7]));
  assert.deepEqual([bits.distance, bits.metric], ['hamming', undefined]);
  await rejectsAsync(parseAnnHdf5(new TextEncoder().encode('not an hdf5 file')), 'E_FORMAT', /signature/);
  await rejectsAsync(parseAnnHdf5(h5fixture(ANN_H5_GZ).subarray(0, 3000)), 'E_CORRUPT', /truncated file/);
});

test(`hdf5: ${FUZZ} mutations give a ZipmlError or a consistent data set, and none hangs`, async () => {
  // fuzzDecoder's property with an async decoder: the HDF5 library runs in a worker with a time
  // limit, because some corruptions (of the global heap holding the string attributes) make the C
  // library loop forever; those must come back as E_LIMIT.
  const valid = h5fixture(ANN_H5_GZ);
  // The time limit is scaled to this machine's speed right now (a loaded machine parses slowly,
  // and a fixed limit would turn slow parses into false "loops"): 50× the median parse time of
  // the valid file, at least 200 ms.
  const times: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    await parseAnnHdf5(valid);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const timeoutMs = Math.max(200, Math.ceil(50 * times[4]!));
  const rng = new Rng(0x4df5);
  const count: Record<string, number> = {};
  for (let i = 0; i < FUZZ; i++) {
    const { data, kind } = mutate(valid, rng);
    let a: AnnDataset;
    try {
      a = await parseAnnHdf5(data, { timeoutMs });
    } catch (e) {
      assert.ok(e instanceof ZipmlError, `mutation ${i} (${kind}) threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
      count[e.code] = (count[e.code] ?? 0) + 1;
      continue;
    }
    // HDF5 keeps no checksum over contiguous data or these (v0) object headers, so a changed
    // value is a correct reading; the structure, though, must be consistent.
    const shape = (x: VectorData | undefined) => (x ? x.n * x.d === x.data.length : true);
    assert.ok(shape(a.train) && shape(a.test) && shape(a.neighbors) && shape(a.distances) && a.train.d === a.test.d
      && (!a.neighbors || a.neighbors.n === a.test.n) && a.train.data.length <= valid.length, `mutation ${i} (${kind})`);
    count.ok = (count.ok ?? 0) + 1;
  }
  assert.ok((count.E_CORRUPT ?? 0) > 100 && (count.ok ?? 0) > FUZZ / 4, JSON.stringify(count));
  checkAnnFixture(await parseAnnHdf5(valid));
});

// ---------------------------------------------------------------------------------------------
// Text and raw f32

const utf8 = (s: string) => new TextEncoder().encode(s);

test('text: the NMSLIB final8 files and the GloVe sample', (t) => {
  const base = shared(t, 'vectors/nmslib/final8_10K.txt');
  const queries = shared(t, 'vectors/nmslib/final8_query1K.txt');
  const glove = shared(t, 'vectors/glove/glove.6B.100d_100.txt');
  if (!base || !queries || !glove) return;
  return (async () => {
    const b = parseTextVectors(await readFileBounded(base, DEFAULT_MAX_BYTES));
    assert.deepEqual([b.n, b.d, b.labels], [10000, 8, undefined]);
    assert.ok(sameValues(b.data.subarray(0, 3), [2.0291894e-3, 1.1102601e-1, 2.0065788e-3].map(Math.fround)));
    for (let i = 0; i < b.n; i++) {
      const s = b.data.subarray(i * 8, i * 8 + 8).reduce((a, v) => a + v, 0);
      assert.ok(Math.abs(s - 1) < 1e-5, `row ${i} sums to ${s}`);
    }
    const q = parseTextVectors(await readFileBounded(queries, DEFAULT_MAX_BYTES), { labels: 'none' });
    assert.deepEqual([q.n, q.d], [1000, 8]);
    const g = parseTextVectors(await readFileBounded(glove, DEFAULT_MAX_BYTES));
    assert.deepEqual([g.n, g.d, g.labels?.slice(0, 3)], [100, 100, ['the', ',', '.']]);
    assert.equal(g.data[0], Math.fround(-0.038194));
    const again = parseTextVectors(encodeTextVectors(g.data, 100, { labels: g.labels! }), { labels: 'first' });
    assert.deepEqual(again.labels, g.labels);
    assert.ok(sameValues(again.data, g.data));
  })();
});

test('text: exact round trips, comments, CRLF, inf/nan, and errors that name the line', () => {
  const rng = new Rng(8);
  const x = randomMatrix(rng, 50, 7);
  x[3] = -0;
  x[4] = Infinity;
  x[5] = NaN;
  x[6] = 1e-45;
  x[7] = 3.4028234663852886e38;
  const back = parseTextVectors(encodeTextVectors(x, 7));
  assert.deepEqual([back.n, back.d], [50, 7]);
  assert.ok(sameValues(back.data, x), 'shortest f32 decimals read back exactly');
  const v = parseTextVectors(utf8('# header\r\n1 2\t3\r\n\r\n  -4.5e1 +.5 -INF\n#tail\n7. nan 1E-2'));
  assert.ok(sameValues(v.data, [1, 2, 3, -45, 0.5, -Infinity, 7, NaN, Math.fround(0.01)]));
  assert.deepEqual(parseTextVectors(utf8('\n# nothing\n')), { data: new Float32Array(0), n: 0, d: 0 });
  rejects(() => parseTextVectors(utf8('1 2 3\n4 5 6\n7 8\n')), 'E_CORRUPT', /line 3 has 2 columns, line 1 had 3/);
  rejects(() => parseTextVectors(utf8('1 2\n3 abc\n'), { labels: 'none' }), 'E_CORRUPT', /line 2, column 2: "abc"/);
  rejects(() => parseTextVectors(utf8('1 0x10\n')), 'E_CORRUPT', /"0x10" is not a number/);
  rejects(() => parseTextVectors(utf8('word\n')), 'E_CORRUPT', /label but no values/);
  rejects(() => parseTextVectors(utf8('1 2\n3 4\n5 6\n'), { maxRows: 2 }), 'E_LIMIT', /more than 2 rows \(line 3\)/);
  rejects(() => parseTextVectors(utf8('1 2\n' + '3 '.repeat(100) + '\n'), { maxLineBytes: 100 }), 'E_LIMIT', /line 2 is 200 bytes/);
  rejects(() => parseTextVectors(utf8('1 2\n3 4\n'), { maxBytes: 8 }), 'E_LIMIT');
  rejects(() => encodeTextVectors(x, 7, { labels: ['a b'] }), 'E_ARG');
});

test('text: 2,000 mutations give a ZipmlError or a consistent matrix', () => {
  const valid = encodeTextVectors(randomMatrix(new Rng(4), 6, 4), 4);
  const r = fuzzDecoder(valid, 2000, 0x7e, (b) => parseTextVectors(b), (v) => v.data.length === v.n * v.d && (v.labels?.length ?? v.n) === v.n);
  assert.ok(r.rejected > 100, `rejected ${r.rejected}, accepted ${r.accepted}`);
});

test('raw f32: the Cohere and bge-m3 files, round trips, and lengths that are not whole rows', (t) => {
  const cohere = shared(t, 'vectors/cohere_wiki_768/cohere_1k_vectors');
  const bge = shared(t, 'vectors/bge_m3/unit-data-1024-sentence_queries.vec');
  if (!cohere || !bge) return;
  return (async () => {
    const c = parseRawF32(await readFileBounded(cohere, DEFAULT_MAX_BYTES), 768);
    assert.deepEqual([c.n, c.d], [1000, 768]);
    const b = parseRawF32(await readFileBounded(bge, DEFAULT_MAX_BYTES), 1024);
    assert.deepEqual([b.n, b.d], [500, 1024]);
    for (let i = 0; i < b.n; i++) {
      const norm = Math.hypot(...b.data.subarray(i * 1024, (i + 1) * 1024));
      assert.ok(Math.abs(norm - 1) < 1e-5, `bge-m3 row ${i} has norm ${norm}`);
    }
    assert.ok(bytesEqual(encodeRawF32(c.data, 768), await readFileBounded(cohere, DEFAULT_MAX_BYTES)));
    rejects(() => parseRawF32(new Uint8Array(3072 + 4), 768), 'E_TRUNCATED', /not a whole number of 3072-byte rows/);
    rejects(() => parseRawF32(new Uint8Array(8), 0), 'E_ARG');
    rejects(() => parseRawF32(new Uint8Array(8), 2 ** 21), 'E_ARG');
    rejects(() => parseRawF32(new Uint8Array(3072), 768, { maxBytes: 3000 }), 'E_LIMIT');
  })();
});

test(`raw f32: ${FUZZ} mutations give a ZipmlError or the bytes as floats`, () => {
  const valid = encodeRawF32(randomMatrix(new Rng(6), 10, 3), 3);
  let input: Uint8Array = valid;
  const r = fuzzDecoder(valid, FUZZ, 0xf32, (b) => parseRawF32((input = b), 3), (v) =>
    v.n * 12 === input.length && bytesEqual(bytesOf(v), input));
  assert.ok(r.rejected > FUZZ / 4 && r.accepted > FUZZ / 4, `rejected ${r.rejected}, accepted ${r.accepted}`);
});

// ---------------------------------------------------------------------------------------------
// Node loaders

test('files: formats from names, writes and reads of every format, bounded reads', async () => {
  assert.deepEqual(
    ['a.fvecs', 'B.IVECS', 'x/y.bvecs', 'q.npy', 't10k-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte', 'f.tsv', 'g.txt', 'queries.vec', 'a.hdf5', 'noext']
      .map(formatFromPath),
    ['fvecs', 'ivecs', 'bvecs', 'npy', 'idx', 'idx', 'text', 'text', 'raw-f32', undefined, undefined],
  );
  const dir = await mkdtemp(join(tmpdir(), 'zipml-io-'));
  try {
    const x = randomMatrix(new Rng(9), 30, 5);
    const ids = Int32Array.from({ length: 30 * 4 }, (_, i) => i * 3);
    const px = new Rng(10).bytes(30 * 5);
    for (const [name, v, format] of [
      ['a.fvecs', { data: x, n: 30, d: 5 }, 'fvecs'],
      ['a.ivecs', { data: ids, n: 30, d: 4 }, 'ivecs'],
      ['a.bvecs', { data: px, n: 30, d: 5 }, 'bvecs'],
      ['a.npy', { data: x, n: 30, d: 5 }, 'npy'],
      ['b.npy', { data: ids, n: 30, d: 4 }, 'npy'],
      ['a.tsv', { data: x, n: 30, d: 5 }, 'text'],
      ['a.vec', { data: x, n: 30, d: 5 }, 'raw-f32'],
    ] as const) {
      const p = join(dir, name);
      await writeVectorFile(p, v, format);
      const back = await readVectorFile(p, { d: v.d });
      assert.deepEqual([back.n, back.d], [v.n, v.d], name);
      assert.ok(sameValues(back.data, v.data), name);
      await rejectsAsync(writeVectorFile(p, v, format), 'E_ARG', /exists/);
    }
    await rejectsAsync(writeVectorFile(join(dir, 'c.fvecs'), { data: ids, n: 30, d: 4 }, 'fvecs'), 'E_ARG', /Int32Array/);
    await rejectsAsync(readVectorFile(join(dir, 'a.vec')), 'E_ARG', /needs d/);
    await rejectsAsync(readVectorFile(join(dir, 'a.hdf5')), 'E_ARG', /readAnnHdf5File/);
    await rejectsAsync(readVectorFile(join(dir, 'missing.fvecs')), 'E_IO', /missing\.fvecs/);
    await rejectsAsync(readVectorFile(join(dir, 'a.fvecs'), { maxBytes: 100 }), 'E_LIMIT', /a\.fvecs: \d+ bytes exceed the limit of 100/);
    await writeFile(join(dir, 'bad.fvecs'), new Uint8Array([1, 0, 0, 0, 0]));
    await rejectsAsync(readVectorFile(join(dir, 'bad.fvecs')), 'E_TRUNCATED', /bad\.fvecs: fvecs: 5 bytes end inside vector 0/);
    const labels = join(DATA, 'vectors/mnist/t10k-labels-idx1-ubyte.gz');
    if (existsSync(labels)) assert.equal((await readVectorFile(labels)).n, 10000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
