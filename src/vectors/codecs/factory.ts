/**
 * createCodec: a vector codec from its name in Faiss factory syntax, so recipes carry over from
 * Faiss: "SQ8", "SQ4_uniform", "SQfp16", "SQbf16", "LSH", "LSHrt", "RaBitQ", "RaBitQ4",
 * "PQ16x8", "PQ32x4", "OPQ16,PQ16x8", "RQ8x8", and "MRL{m},{inner}" for Matryoshka truncation to m
 * dimensions in front of any of them ("MRL256,SQ8"). Index recipes (IVF, fast-scan, refine) build
 * on these in the indexes layer.
 */
import { ZipmlError } from '../../core/errors.js';
import type { VectorCodec } from '../types.js';
import { ScalarQuantizer, sqTypeFromName } from './sq.js';
import { BinaryCodec, binaryOptionsFromName } from './binary.js';
import { RaBitQCodec, rabitqOptionsFromName } from './rabitq.js';
import { MatryoshkaCodec } from './matryoshka.js';
import { ProductQuantizer, pqOptionsFromName } from './pq.js';
import { OPQCodec, opqOptionsFromName } from './opq.js';
import { ResidualQuantizer, rqOptionsFromName } from './rq.js';

/** Builds an untrained codec for `d`-dimensional vectors from its factory name. */
export function createCodec(name: string, d: number): VectorCodec {
  const mrl = /^MRL([0-9]+),(.+)$/.exec(name);
  if (mrl) {
    const m = Number(mrl[1]);
    if (!Number.isInteger(m) || m < 1 || m > d) throw new ZipmlError('E_ARG', `${name}: truncation to ${m} dimensions must be in 1..${d}`);
    return new MatryoshkaCodec(d, m, createCodec(mrl[2]!, m));
  }
  if (sqTypeFromName(name)) return new ScalarQuantizer(d, name);
  if (opqOptionsFromName(name)) return new OPQCodec(d, name);
  if (pqOptionsFromName(name)) return new ProductQuantizer(d, name);
  if (rqOptionsFromName(name)) return new ResidualQuantizer(d, name);
  if (rabitqOptionsFromName(name)) return new RaBitQCodec(d, name);
  if (binaryOptionsFromName(name, d)) return new BinaryCodec(d, name);
  throw new ZipmlError('E_ARG', `unknown codec "${name}" (known: SQ8, SQ6, SQ4, SQfp16, SQbf16, SQ*_uniform, LSH[r|h][t], RaBitQ[2-9], PQ{M}x{bits}, OPQ{M},PQ{M}x{bits}, RQ{M}x{bits}, MRL{m},<codec>)`);
}
