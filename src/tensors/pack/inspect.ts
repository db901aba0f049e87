/**
 * Per-tensor statistics for `zipml inspect`: dtype, shape, bytes, the order-0 entropy of each
 * byte stream after grouping (what an order-0 coder can reach), and the ratio our chunk coding
 * reaches on that tensor alone (for a model file) or its share of the packed lane (for a packed file).
 */
import { histogram, entropyBits } from '../../core/entropy/histogram.js';
import type { ByteSource, ModelLayout } from '../layout.js';
import { groupBytes, schemeElementBytes, schemeForDtype, type GroupScheme } from './grouping.js';
import { encodeChunk, DEFAULT_CHUNK_BYTES } from './chunk.js';
import type { OpenPacked } from './unpack.js';

export interface TensorStats {
  name: string;
  dtype: string;
  shape: number[];
  bytes: number;
  /** How the packer stores it (packed files). */
  enc?: string;
  /** Bits per byte of each grouped stream (order-0), most significant stream first. */
  streamBits: number[];
  /** Packed bytes / original bytes. */
  ratio: number;
}


/** Order-0 bits per byte of each grouped stream of `data`. */
export function streamEntropies(data: Uint8Array, scheme: GroupScheme): number[] {
  const e = schemeElementBytes(scheme);
  const n = data.length - (data.length % e);
  if (n === 0) return [];
  const g = new Uint8Array(n);
  groupBytes(scheme, data.subarray(0, n), g);
  const m = n / e;
  return Array.from({ length: e }, (_, k) => entropyBits(histogram(g.subarray(k * m, (k + 1) * m))) / m);
}

/** Statistics of each tensor of a model file (reads each tensor once). */
export async function inspectModel(src: ByteSource, layout: ModelLayout): Promise<TensorStats[]> {
  const out: TensorStats[] = [];
  for (const t of layout.tensors) {
    const data = await src.read(t.offset, t.byteLength);
    const scheme = schemeForDtype(t.dtype, t.byteLength);
    let packed = 0;
    for (let at = 0; at < data.length; at += DEFAULT_CHUNK_BYTES) {
      packed += encodeChunk(data.slice(at, Math.min(data.length, at + DEFAULT_CHUNK_BYTES)), scheme).length;
    }
    out.push({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.byteLength, streamBits: streamEntropies(data, scheme), ratio: t.byteLength ? packed / t.byteLength : 1 });
  }
  return out;
}

/**
 * Statistics of each tensor of a packed file: each chunk's payload is shared among the tensors in
 * it in proportion to their bytes. `tensorBytes` returns a tensor's original bytes (for entropies).
 */
export async function inspectPacked(p: OpenPacked, tensorBytes: (i: number) => Promise<Uint8Array>): Promise<TensorStats[]> {
  const ratioAt = (lane: number, from: number, n: number): number => {
    let packed = 0;
    for (const c of p.chunks) {
      if (c.lane !== lane) continue;
      const lo = Math.max(from, c.laneOffset), hi = Math.min(from + n, c.laneOffset + c.decodedSize);
      if (hi > lo) packed += (c.length * (hi - lo)) / c.decodedSize;
    }
    return packed;
  };
  const out: TensorStats[] = [];
  for (const piece of p.pieces) {
    if (piece.kind === 'lane' && piece.tensor < 0) continue;
    const i = piece.tensor;
    const t = p.meta.tensors[i]!;
    const packed = piece.kind === 'lane' ? ratioAt(piece.lane, piece.laneOffset, piece.stored) : 0;
    const data = await tensorBytes(i);
    const scheme = schemeForDtype(t.dtype, t.byteLength);
    out.push({ name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.byteLength, enc: t.enc, streamBits: streamEntropies(data, scheme), ratio: t.byteLength ? packed / t.byteLength : 1 });
  }
  return out;
}
