/**
 * Matryoshka truncation: keep the first m dimensions of each vector, re-normalize them to unit
 * length, and hand them to any inner codec of dimension m. Embeddings trained with Matryoshka
 * representation learning (OpenAI text-embedding-3, nomic, bge-m3, ...) put most information in a
 * prefix, so truncation trades bytes for accuracy with no training at all.
 *
 * Queries go through the same truncation and normalization as the data (as with Faiss's
 * IndexPreTransform), so `distances` equals decode-then-distance against the transformed query;
 * decode returns d values per vector with zeros after the first m. Name: "MRL{m},{inner}".
 */
import { ZipmlError } from '../../core/errors.js';
import { ContainerBuilder } from '../../core/container.js';
import type { Metric, TrainOptions, VectorCodec } from '../types.js';
import { checkRows, checkDim, checkQuery, codeCount } from '../linalg.js';

export interface MatryoshkaOptions {
  /** Re-normalize the kept prefix to unit length (default true). */
  normalize?: boolean;
}

export class MatryoshkaCodec implements VectorCodec {
  readonly d: number;
  readonly m: number;
  readonly normalize: boolean;
  readonly inner: VectorCodec;

  constructor(d: number, m: number, inner: VectorCodec, opts: MatryoshkaOptions = {}) {
    checkDim(d, 'MatryoshkaCodec');
    if (!Number.isInteger(m) || m < 1 || m > d) throw new ZipmlError('E_ARG', `MatryoshkaCodec: m ${m} must be an integer in 1..${d}`);
    if (inner.d !== m) throw new ZipmlError('E_ARG', `MatryoshkaCodec: the inner codec has dimension ${inner.d}, expected m = ${m}`);
    this.d = d;
    this.m = m;
    this.inner = inner;
    this.normalize = opts.normalize ?? true;
  }

  get codeSize(): number {
    return this.inner.codeSize;
  }
  get isTrained(): boolean {
    return this.inner.isTrained;
  }
  get name(): string {
    return `MRL${this.m},${this.inner.name}`;
  }

  /** n rows of d -> n rows of m: the prefix, re-normalized (a zero prefix stays zero). */
  truncate(x: Float32Array): Float32Array {
    const n = checkRows(x, this.d, `${this.name} truncate`);
    const { d, m } = this;
    const y = new Float32Array(n * m);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < m; j++) {
        const v = x[i * d + j]!;
        y[i * m + j] = v;
        s += v * v;
      }
      if (this.normalize && s > 0) {
        const inv = 1 / Math.sqrt(s);
        for (let j = 0; j < m; j++) y[i * m + j] = y[i * m + j]! * inv;
      }
    }
    return y;
  }

  train(x: Float32Array, opts?: TrainOptions): void {
    this.inner.train(this.truncate(x), opts);
  }

  encode(x: Float32Array): Uint8Array {
    return this.inner.encode(this.truncate(x));
  }

  decode(codes: Uint8Array): Float32Array {
    const n = codeCount(codes, this.codeSize, `${this.name} decode`);
    const y = this.inner.decode(codes);
    const out = new Float32Array(n * this.d);
    for (let i = 0; i < n; i++) out.set(y.subarray(i * this.m, (i + 1) * this.m), i * this.d);
    return out;
  }

  distances(query: Float32Array, metric: Metric): (codes: Uint8Array, n: number, out: Float32Array) => void {
    checkQuery(query, this.d, `${this.name} distances`);
    return this.inner.distances(this.truncate(query), metric);
  }

  serialize(): Uint8Array {
    const inner = this.inner.serialize();
    return new ContainerBuilder()
      .addSection('inner', inner)
      .finish('vectors.codec', { codec: 'matryoshka', version: 1, d: this.d, m: this.m, normalize: this.normalize });
  }
}
