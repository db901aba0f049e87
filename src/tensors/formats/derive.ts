/**
 * Derived copies for tests and benchmarks: a safetensors file holding every tensor of a model
 * (any format we read), with its F32 tensors converted to F16 or BF16 (core's RNE conversions;
 * NaNs stay NaN) and every other tensor copied as it is. This is how we get BF16/FP16 weights with
 * real value distributions when no such file of the right size exists.
 */
import { ZipmlError } from '../../core/errors.js';
import { f32ToBf16, f32ToF16 } from '../../core/dtypes.js';
import type { ByteSource, ModelLayout } from '../layout.js';
import { type ByteSink, BufferSink, readExact } from './common.js';
import { type SafetensorsTensor, writeSafetensors } from './safetensors.js';

export type NarrowFloat = 'F16' | 'BF16';

/** A ByteSource over the narrowed bytes of an F32 region, converted piece by piece as it is read. */
function narrowed(src: ByteSource, offset: number, byteLength: number, to: NarrowFloat): ByteSource {
  return {
    size: byteLength / 2,
    async read(at: number, length: number): Promise<Uint8Array> {
      if (!(at >= 0 && length >= 0 && at + length <= byteLength / 2)) throw new ZipmlError('E_TRUNCATED', `derive: read of ${length} at ${at} is past the end`, { offset: at });
      const first = Math.floor(at / 2), last = Math.ceil((at + length) / 2);
      const f = new Float32Array((await readExact(src, offset + first * 4, (last - first) * 4, 'derive')).slice().buffer);
      const h = to === 'F16' ? f32ToF16(f) : f32ToBf16(f);
      const b = new Uint8Array(h.buffer);
      return b.subarray(at - first * 2, at - first * 2 + length);
    },
  };
}

/** The tensors of `layout` for writeSafetensors, F32 ones narrowed to `to`. */
export function narrowedTensors(src: ByteSource, layout: ModelLayout, to: NarrowFloat): SafetensorsTensor[] {
  return layout.tensors.map((t) => {
    const bytes: ByteSource = {
      size: t.byteLength,
      read: (at, n) => readExact(src, t.offset + at, n, `derive: '${t.name}'`),
    };
    if (t.dtype === 'F32') return { name: t.name, dtype: to, shape: t.shape, data: narrowed(src, t.offset, t.byteLength, to) };
    if (t.dtype.startsWith('GGML_')) return { name: t.name, dtype: 'U8', shape: [t.byteLength], data: bytes };
    return { name: t.name, dtype: t.dtype, shape: t.shape, data: bytes };
  });
}

/**
 * Streams a safetensors copy of a model with F32 tensors in `to`; metadata records the source
 * format and the conversion. GGML block types are copied as U8 (safetensors has no such dtype).
 */
export async function writeNarrowedSafetensors(sink: ByteSink, src: ByteSource, layout: ModelLayout, to: NarrowFloat, opts: { signal?: AbortSignal } = {}): Promise<void> {
  await writeSafetensors(sink, narrowedTensors(src, layout, to), {
    keepOrder: true,
    metadata: { derived_from: layout.format, conversion: `F32 -> ${to} (round to nearest even)` },
    signal: opts.signal,
  });
}

export async function encodeNarrowedSafetensors(src: ByteSource, layout: ModelLayout, to: NarrowFloat): Promise<Uint8Array> {
  const sink = new BufferSink();
  await writeNarrowedSafetensors(sink, src, layout, to);
  return sink.bytes();
}
