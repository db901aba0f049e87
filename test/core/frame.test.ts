import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compress, decompress, frameInfo, BlockType, FRAME_DEFAULT_MAX_OUTPUT, type Coder,
} from '../../src/core/entropy/frame.js';
import { compressAsync, decompressAsync } from '../../src/core/entropy/frame-parallel.js';
import { WorkerPool } from '../../src/core/workers/pool.js';
import { isZipmlError } from '../../src/core/errors.js';
import { order0Bytes } from '../../src/core/entropy/histogram.js';
import { Rng } from '../util/rng.js';
import { bytesEqual, fuzzDecoder } from '../util/mutate.js';

/** Skewed bytes: a geometric-ish distribution over a shuffled alphabet, like text. */
function skewed(n: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = rng.float();
    out[i] = (Math.floor(-Math.log2(1 - r) * 6) * 37 + 11) & 255;
  }
  return out;
}

const CODERS: Coder[] = ['huffman', 'rans', 'auto'];

test('frame round trip: every coder, sizes around block boundaries', () => {
  for (const coder of CODERS) {
    for (const n of [0, 1, 2, 1023, 1024, 1025, 4096 * 3 + 5, 100_000]) {
      const data = skewed(n, n + 1);
      const frame = compress(data, { coder, blockSizeLog2: 10 });
      assert.ok(bytesEqual(decompress(frame), data), `${coder} n=${n}`);
    }
  }
});

test('frame picks RLE for one-symbol blocks and raw where coding does not pay', () => {
  const rng = new Rng(1);
  const data = new Uint8Array(3 << 16);
  data.fill(7, 0, 1 << 16); // block 0: one symbol
  data.set(rng.bytes(1 << 16), 1 << 16); // block 1: random, incompressible
  data.set(skewed(1 << 16, 2), 2 << 16); // block 2: compressible
  for (const coder of CODERS) {
    const frame = compress(data, { coder, blockSizeLog2: 16 });
    const types = frameInfo(frame).blocks.map((b) => b.type);
    assert.equal(types[0], BlockType.Rle);
    assert.equal(types[1], BlockType.Raw);
    assert.equal(types[2], coder === 'rans' ? BlockType.Rans : coder === 'huffman' ? BlockType.Huffman : types[2]);
    assert.notEqual(types[2], BlockType.Raw);
    assert.ok(bytesEqual(decompress(frame), data));
    assert.ok(frame.length < data.length * 0.75, `${coder}: ${frame.length}`);
  }
});

test('frame: rANS is at least as small as Huffman on a skewed source, within 0.5% of order-0', () => {
  const data = skewed(1 << 20, 9);
  const h = compress(data, { coder: 'huffman' }).length;
  const r = compress(data, { coder: 'rans' }).length;
  const a = compress(data, { coder: 'auto' }).length;
  assert.ok(r <= h, `rans ${r} vs huffman ${h}`);
  assert.ok(a <= h);
  // 4 blocks, each with a frequency table of at most ~300 bytes, plus frame header and checksum.
  const bound = order0Bytes(data);
  assert.ok(r <= bound * 1.005 + 4 * 300 + 32, `rans ${r} vs order-0 ${bound}`);
});

test('frame reports progress and honours abort', () => {
  const data = skewed(1 << 20, 3);
  const seen: number[] = [];
  compress(data, { blockSizeLog2: 18, onProgress: (d, t) => { assert.equal(t, data.length); seen.push(d); } });
  assert.deepEqual(seen, [1, 2, 3, 4].map((k) => k << 18));
  const ac = new AbortController();
  ac.abort();
  assert.throws(() => compress(data, { signal: ac.signal }), (e: unknown) => isZipmlError(e, 'E_ABORTED'));
  assert.throws(() => compress(data, { coder: 'lz' as Coder }), (e: unknown) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => compress(data, { blockSizeLog2: 9 }), (e: unknown) => isZipmlError(e, 'E_ARG'));
});

test('frame limits: declared size above maxOutputSize is refused before allocating', () => {
  const frame = compress(new Uint8Array(5000).fill(1));
  assert.throws(() => decompress(frame, { maxOutputSize: 4999 }), (e: unknown) => isZipmlError(e, 'E_LIMIT'));
  assert.equal(decompress(frame, { maxOutputSize: 5000 }).length, 5000);
  assert.equal(FRAME_DEFAULT_MAX_OUTPUT, 1 << 30);
  // A header claiming 2^40 bytes in a tiny frame: refused by the limit, and with the limit lifted,
  // by the block count check (no allocation happens either way).
  const forged = frame.slice();
  forged.set([0x80, 0x80, 0x80, 0x80, 0x80, 0x20], 8);
  assert.throws(() => decompress(forged), (e: unknown) => isZipmlError(e, 'E_LIMIT'));
  assert.throws(() => decompress(forged, { maxOutputSize: Number.MAX_SAFE_INTEGER }), (e: unknown) => isZipmlError(e));
});

for (const coder of CODERS) {
  test(`frame fuzz (${coder}): 10,000 mutations give ZipmlError or the exact content`, () => {
    const data = skewed(3000, 17);
    data.fill(65, 1024, 2048); // an RLE block among coded ones
    const frame = compress(data, { coder, blockSizeLog2: 10 });
    const r = fuzzDecoder(frame, 10_000, 4242, (b) => decompress(b, { maxOutputSize: 1 << 16 }), (out) => bytesEqual(out, data));
    assert.ok(r.rejected > 9000, `rejected ${r.rejected}`);
  });
}

test('compressAsync / decompressAsync on 2 workers are byte-identical to the sync path', async () => {
  const pool = new WorkerPool({ size: 2 });
  try {
    const data = skewed(3 << 20, 5);
    for (const coder of CODERS) {
      const sync = compress(data, { coder });
      const par = await compressAsync(data, { coder, pool });
      assert.ok(bytesEqual(par, sync), coder);
      let last = 0;
      const back = await decompressAsync(par, { pool, onProgress: (d) => { last = d; } });
      assert.ok(bytesEqual(back, data));
      assert.equal(last, data.length);
    }
    // Corruption found in a worker surfaces as a ZipmlError with its code.
    const frame = compress(data);
    const bad = frame.slice();
    bad[bad.length - 1]! ^= 1;
    await assert.rejects(decompressAsync(bad, { pool }), (e: unknown) => isZipmlError(e, 'E_CORRUPT'));
  } finally {
    await pool.close();
  }
});
