import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BitReader, BitWriter, readVarint, writeVarint, varintSize, zigzagDecode, zigzagEncode, VARINT_MAX,
} from '../../src/core/bits.js';
import { isZipmlError } from '../../src/core/errors.js';
import { Rng } from '../util/rng.js';
import { fuzzDecoder } from '../util/mutate.js';

test('bit writer/reader round trip of random widths 0..32', () => {
  const rng = new Rng(3);
  const items: Array<[number, number]> = [];
  const w = new BitWriter(4);
  for (let i = 0; i < 20_000; i++) {
    const n = rng.int(33);
    const v = n === 32 ? rng.u32() : rng.u32() & ((1 << n) - 1) >>> 0;
    items.push([v >>> 0, n]);
    w.write(v, n);
  }
  const total = items.reduce((a, [, n]) => a + n, 0);
  assert.equal(w.bitLength, total);
  const bytes = w.finish();
  assert.equal(bytes.length, Math.ceil(total / 8));
  const r = new BitReader(bytes);
  for (const [v, n] of items) assert.equal(r.read(n), v);
  assert.ok(r.bitsLeft < 8);
});

test('bit order is LSB-first (DEFLATE order)', () => {
  const w = new BitWriter();
  w.write(1, 1); w.write(0, 1); w.write(0b11, 2); w.write(0xab, 8);
  assert.deepEqual([...w.finish()], [0b10111101, 0b1010]);
});

test('bit reader refuses to read past the end', () => {
  const r = new BitReader(new Uint8Array([0xff, 0x01]));
  assert.equal(r.read(12), 0x1ff);
  assert.throws(() => r.read(8), (e: unknown) => isZipmlError(e, 'E_TRUNCATED'));
});

test('varints: round trip, sizes, limits', () => {
  const rng = new Rng(9);
  const values = [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 32, 2 ** 35 + 7, VARINT_MAX];
  for (let i = 0; i < 2000; i++) values.push(Math.floor(rng.float() * 2 ** (rng.int(53) + 1)));
  const buf = new Uint8Array(8);
  for (const v of values) {
    const end = writeVarint(buf, 0, v);
    assert.equal(end, varintSize(v));
    assert.deepEqual(readVarint(buf, 0, end), { value: v, next: end });
  }
  assert.throws(() => writeVarint(buf, 0, -1), (e: unknown) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => writeVarint(buf, 0, 2 ** 53), (e: unknown) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => readVarint(new Uint8Array([0x80, 0x80]), 0), (e: unknown) => isZipmlError(e, 'E_TRUNCATED'));
  assert.throws(() => readVarint(new Uint8Array([0x80, 0x00]), 0), (e: unknown) => isZipmlError(e, 'E_CORRUPT'));
  assert.throws(() => readVarint(new Uint8Array(9).fill(0xff), 0), (e: unknown) => isZipmlError(e, 'E_LIMIT'));
  assert.throws(() => readVarint(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), 0), (e: unknown) => isZipmlError(e, 'E_LIMIT'));
  for (const v of [0, -1, 1, -(2 ** 52), 2 ** 52 - 1]) assert.equal(zigzagDecode(zigzagEncode(v)), v);
});

test('varint list fuzz: 10,000 mutations give ZipmlError or the exact values', () => {
  const rng = new Rng(21);
  const values = Array.from({ length: 40 }, () => Math.floor(rng.float() * 2 ** (rng.int(50) + 1)));
  const buf = new Uint8Array(8 * values.length + 1);
  let pos = writeVarint(buf, 0, values.length);
  for (const v of values) pos = writeVarint(buf, pos, v);
  const valid = buf.slice(0, pos);
  const decode = (b: Uint8Array): number[] => {
    const head = readVarint(b, 0);
    const out: number[] = [];
    let next = head.next;
    for (let i = 0; i < head.value; i++) {
      const r = readVarint(b, next);
      out.push(r.value);
      next = r.next;
    }
    return out;
  };
  // A mutated varint stream can decode to other valid numbers: varints carry no checksum, so the
  // property checked here is "ZipmlError or some decoded list", never a crash or an over-read.
  // A count larger than the input ends in E_TRUNCATED after reading at most the input.
  const r = fuzzDecoder(valid, 10_000, 77, decode, (out) => out.length <= valid.length + 64);
  assert.ok(r.rejected > 0 && r.accepted > 0);
  assert.deepEqual(decode(valid), values);
});
