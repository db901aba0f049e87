/**
 * The identity "codec": a vector stored as its d float32 values (4·d bytes, little-endian). It
 * lets Flat, IVF…,Flat and RFlat share the code paths of the lossy codecs.
 */
import { ZipmlError } from '../../core/errors.js';
import type { Metric, VectorCodec } from '../types.js';
import { checkRows, checkDim, checkQuery, checkCodeBatch, codeCount } from '../linalg.js';
import { l2sqrDistances, innerProducts } from '../distances.js';

/** A Float32Array over code bytes: a view when aligned, else a copy. */
export function floatView(codes: Uint8Array, n: number, d: number): Float32Array {
  const len = n * d;
  if ((codes.byteOffset & 3) === 0) return new Float32Array(codes.buffer, codes.byteOffset, len);
  return new Float32Array(codes.slice(0, 4 * len).buffer);
}

export class FlatCodec implements VectorCodec {
  readonly d: number;
  readonly codeSize: number;
  readonly isTrained = true;
  readonly name = 'Flat';

  constructor(d: number) {
    checkDim(d, 'Flat');
    this.d = d;
    this.codeSize = 4 * d;
  }

  train(): void {
    // Nothing to learn.
  }

  encode(x: Float32Array): Uint8Array {
    checkRows(x, this.d, 'Flat encode');
    return new Uint8Array(x.slice().buffer);
  }

  decode(codes: Uint8Array): Float32Array {
    const n = codeCount(codes, this.codeSize, 'Flat decode');
    return floatView(codes, n, this.d).slice();
  }

  distances(query: Float32Array, metric: Metric): (codes: Uint8Array, n: number, out: Float32Array) => void {
    checkQuery(query, this.d, 'Flat distances');
    if (metric === 'cos') throw new ZipmlError('E_ARG', "Flat distances: normalize and use 'ip' for cosine");
    const q = query.slice();
    const d = this.d;
    return (codes, n, out) => {
      checkCodeBatch(codes, n, this.codeSize, out, 'Flat distances');
      const x = floatView(codes, n, d);
      const o = out.length === n ? out : out.subarray(0, n);
      if (metric === 'l2') l2sqrDistances(q, x, d, o);
      else innerProducts(q, x, d, o);
    };
  }

  serialize(): Uint8Array {
    throw new ZipmlError('E_UNSUPPORTED', 'Flat has no parameters to serialize; index files store it by name');
  }
}
