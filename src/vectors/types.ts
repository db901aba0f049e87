/**
 * Shared vocabulary of zipml/vectors. Vectors are rows of a row-major Float32Array: `n` vectors of
 * dimension `d` are `x.length === n * d`. Codes are rows of a Uint8Array, `codeSize` bytes each.
 */
import type { LongOpOptions } from '../core/errors.js';

/** Distance or similarity. 'l2' is squared Euclidean distance (smaller is closer, as in Faiss);
 * 'ip' is inner product (larger is closer); 'cos' is the inner product of normalized vectors. */
export type Metric = 'l2' | 'ip' | 'cos';

/** Options for training: the long-operation options plus a seed for every random choice. */
export interface TrainOptions extends LongOpOptions {
  seed?: number;
}

/**
 * A vector codec: learns its parameters from a sample (when it learns), encodes vectors to
 * fixed-size codes, decodes them back, and computes distances from a float query to codes without
 * decoding them (the compressed-domain path).
 */
export interface VectorCodec {
  /** Dimension of the vectors it encodes. */
  readonly d: number;
  /** Bytes per encoded vector. */
  readonly codeSize: number;
  /** False until train() ran, for codecs that learn. */
  readonly isTrained: boolean;
  /** A short name in Faiss factory syntax where one exists ("SQ8", "PQ16x8", "RaBitQ", ...). */
  readonly name: string;
  train(x: Float32Array, opts?: TrainOptions): void;
  /** n vectors -> n * codeSize bytes. */
  encode(x: Float32Array): Uint8Array;
  /** n codes -> n * d floats (the reconstruction). */
  decode(codes: Uint8Array): Float32Array;
  /**
   * Prepares per-query state (lookup tables, rotated query, ...) once, and returns a function
   * that writes the distance (l2: squared distance; ip/cos: similarity) from the query to each
   * of `n` codes into `out`. Equal, within float tolerance, to decode-then-distance.
   */
  distances(query: Float32Array, metric: Metric): (codes: Uint8Array, n: number, out: Float32Array) => void;
  /** Parameters as bytes (a zipml container); see deserializeCodec. */
  serialize(): Uint8Array;
}
