import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../util/rng.js';
import { zipml } from '../util/cli.js';

test('zipml compress / decompress / inspect round trip, atomic outputs, refusals', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zipml-cli-'));
  try {
    const rng = new Rng(8);
    const data = new Uint8Array(600_000);
    for (let i = 0; i < data.length; i++) data[i] = 97 + Math.floor(-Math.log2(1 - rng.float()) * 2);
    const input = join(dir, 'in.bin');
    await writeFile(input, data);
    for (const coder of ['huffman', 'rans', 'auto']) {
      const c = await zipml('compress', input, '--coder', coder, '-o', join(dir, `in.${coder}.zmf`), '--threads', '2');
      assert.equal(c.code, 0, c.stderr);
      assert.match(c.stdout, /ratio/);
      const d = await zipml('decompress', join(dir, `in.${coder}.zmf`), '-o', join(dir, `out.${coder}`));
      assert.equal(d.code, 0, d.stderr);
      assert.deepEqual(new Uint8Array(await readFile(join(dir, `out.${coder}`))), data);
    }
    // Refuses to overwrite without --force, then does with it.
    const again = await zipml('compress', input, '-o', join(dir, 'in.huffman.zmf'));
    assert.equal(again.code, 2);
    assert.match(again.stderr, /E_ARG: .*exists/);
    assert.equal((await zipml('compress', input, '-o', join(dir, 'in.huffman.zmf'), '--force')).code, 0);
    // Inspect reports the frame.
    const info = await zipml('inspect', join(dir, 'in.rans.zmf'));
    assert.equal(JSON.parse(info.stdout).contentSize, data.length);
    // Corrupt input: a typed error, exit code 2, no output file, no stack trace.
    const frame = await readFile(join(dir, 'in.huffman.zmf'));
    frame[frame.length - 2]! ^= 0xff;
    await writeFile(join(dir, 'bad.zmf'), frame);
    const bad = await zipml('decompress', join(dir, 'bad.zmf'));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /E_CORRUPT/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
    assert.ok(!(await readdir(dir)).includes('bad'));
    assert.ok(!(await readdir(dir)).some((f) => f.includes('.tmp-')));
    // Bad option values are refused by the parser.
    const opt = await zipml('compress', input, '--block-log', '30');
    assert.notEqual(opt.code, 0);
    assert.equal((await zipml('kernels')).stdout.trim(), 'wasm-simd');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('zipml demo runs and prints measured figures', async () => {
  const r = await zipml('demo', '--size', '1');
  assert.equal(r.code, 0, r.stderr);
  for (const part of ['Exact float conversions', 'Entropy coding', 'xxHash32', 'Worker pool', 'Container', 'Vectors', 'Indexes', 'IVF128,PQ32x4fs,RFlat']) {
    assert.match(r.stdout, new RegExp(part));
  }
  assert.match(r.stdout, /round trip exact/);
  assert.doesNotMatch(r.stdout, /false/);
});
