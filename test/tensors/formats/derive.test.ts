/** Derived F16/BF16 safetensors copies of real FP32 models: values equal core's conversions, other tensors copied. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { f32ToBf16, f32ToF16 } from '../../../src/core/dtypes.js';
import { bufferSource, readModelLayout } from '../../../src/tensors/layout.js';
import { encodeNarrowedSafetensors } from '../../../src/tensors/formats/derive.js';
import { encodeSafetensors, readSafetensorsLayout } from '../../../src/tensors/formats/safetensors.js';
import { bytesEqual } from '../../util/mutate.js';
import { Rng } from '../../util/rng.js';
import { sharedFile } from './util.js';

async function checkDerived(file: Uint8Array, name: string): Promise<void> {
  const src = bufferSource(file);
  const layout = await readModelLayout(src, { fileName: name });
  for (const to of ['F16', 'BF16'] as const) {
    const out = await encodeNarrowedSafetensors(src, layout, to);
    const l = await readSafetensorsLayout(bufferSource(out));
    assert.equal(l.metadata.derived_from, layout.format);
    assert.equal(l.tensors.length, layout.tensors.length);
    for (const t of layout.tensors) {
      const r = l.tensors.find((x) => x.name === t.name)!;
      const orig = file.subarray(t.offset, t.offset + t.byteLength);
      const got = out.subarray(r.offset, r.offset + r.byteLength);
      if (t.dtype === 'F32') {
        assert.equal(r.dtype, to);
        const f = new Float32Array(orig.slice().buffer);
        assert.ok(bytesEqual(got, new Uint8Array((to === 'F16' ? f32ToF16(f) : f32ToBf16(f)).buffer)), `${name} ${t.name}`);
      } else assert.ok(bytesEqual(got, orig), `${name} ${t.name} copied`);
    }
  }
}

test('derive: BF16 and F16 copies of Silero VAD (safetensors) and stories260K (llama2.c)', async (t) => {
  for (const rel of ['models/silero_vad/silero_vad_16k.safetensors', 'models/llama2c/stories260K.bin']) {
    const file = await sharedFile(t, rel);
    if (file) await checkDerived(file, rel);
  }
});

test('derive: a tensor larger than the 4 MiB write piece converts across piece boundaries', async () => {
  const rng = new Rng(4);
  const big = Float32Array.from({ length: 2_500_001 }, () => rng.normal());
  const file = await encodeSafetensors([
    { name: 'big', dtype: 'F32', shape: [big.length], data: big },
    { name: 'ids', dtype: 'I32', shape: [3], data: Int32Array.from([1, -2, 3]) },
  ]);
  await checkDerived(file, 'synthetic.safetensors');
});
