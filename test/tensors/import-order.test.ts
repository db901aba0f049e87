import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

// Each tensors module must load on its own, first, in a fresh process: an import cycle between
// the format readers and layout.ts once made `formats/llama2c.js` fail when imported first.
test('every tensors module can be the first one imported', () => {
  const dist = new URL('../../src/tensors/', import.meta.url);
  for (const m of ['formats/llama2c.js', 'formats/tflite.js', 'formats/common.js', 'formats/onnx.js', 'layout.js', 'llm/model.js', 'pack/pack.js', 'index.js']) {
    const url = new URL(m, dist).href;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(url)});`], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${m}: ${r.stderr}`);
  }
});
