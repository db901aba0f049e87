/**
 * `zipml pack` / `unpack` / `inspect` on a model file: both packed formats, a checkpoint delta,
 * refusal to overwrite, a corrupt packed file giving exit code 2 and no output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors } from '../../src/tensors/formats/safetensors.js';
import { f32ToBf16 } from '../../src/core/dtypes.js';
import { Rng } from '../util/rng.js';

const run = promisify(execFile);
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

async function zipml(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(process.execPath, [CLI, ...args]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

test('zipml pack / unpack / inspect on a safetensors model', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zipml-tensors-cli-'));
  try {
    const rng = new Rng(4);
    const w = new Float32Array(100_000).map(() => rng.normal() * 0.02);
    const model = await encodeSafetensors([
      { name: 'w', dtype: 'F32', shape: [100, 1000], data: w },
      { name: 'b', dtype: 'BF16', shape: [100_000], data: f32ToBf16(w) },
    ]);
    const step = await encodeSafetensors([
      { name: 'w', dtype: 'F32', shape: [100, 1000], data: w.map((v) => v * (1 + rng.normal() * 1e-3)) },
      { name: 'b', dtype: 'BF16', shape: [100_000], data: f32ToBf16(w) },
    ]);
    const m = join(dir, 'm.safetensors'), s = join(dir, 's.safetensors');
    await writeFile(m, model);
    await writeFile(s, step);
    for (const format of ['container', 'safetensors']) {
      const packed = join(dir, `m.${format}.zml`);
      const p = await zipml('pack', m, '-o', packed, '--format', format, '--threads', '2');
      assert.equal(p.code, 0, p.stderr);
      assert.match(p.stdout, /ratio 0\.[5-8]/);
      const u = await zipml('unpack', packed, '-o', join(dir, `back.${format}`));
      assert.equal(u.code, 0, u.stderr);
      assert.match(u.stdout, /SHA-256 ok/);
      assert.deepEqual(new Uint8Array(await readFile(join(dir, `back.${format}`))), model);
    }
    const again = await zipml('pack', m, '-o', join(dir, 'm.container.zml'));
    assert.equal(again.code, 2);
    assert.match(again.stderr, /E_ARG: .*exists/);
    // Delta against the previous checkpoint, and unpack with it.
    const d = await zipml('pack', s, '--base', m, '-o', join(dir, 's.zml'), '--threads', '1');
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /deltas 2/);
    const noBase = await zipml('unpack', join(dir, 's.zml'), '-o', join(dir, 's.back'));
    assert.equal(noBase.code, 2);
    assert.match(noBase.stderr, /E_ARG: .*base/);
    assert.equal((await zipml('unpack', join(dir, 's.zml'), '--base', m, '-o', join(dir, 's.back'))).code, 0);
    assert.deepEqual(new Uint8Array(await readFile(join(dir, 's.back'))), step);
    // Inspect: the model and the packed file, per tensor.
    const im = await zipml('inspect', m);
    assert.equal(im.code, 0, im.stderr);
    assert.match(im.stdout, /safetensors model/);
    assert.match(im.stdout, /\nw\tF32\t\[100,1000\]\t400000\t/);
    const ip = await zipml('inspect', join(dir, 'm.container.zml'));
    assert.match(ip.stdout, /packed safetensors model/);
    assert.match(ip.stdout, /\nb\tBF16\t\[100000\]\t200000\tplain\t0\.[67]/);
    // A corrupt packed file: exit code 2, typed error, no output and no temporary file left.
    const bad = await readFile(join(dir, 'm.container.zml'));
    bad[300]! ^= 0x40;
    await writeFile(join(dir, 'bad.zml'), bad);
    const r = await zipml('unpack', join(dir, 'bad.zml'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /E_CORRUPT/);
    const files = await readdir(dir);
    assert.ok(!files.includes('bad') && !files.some((f) => f.includes('.tmp-')), files.join(' '));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
