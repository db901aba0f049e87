/**
 * Index factory strings in Faiss syntax, for the parts zipml implements:
 *
 *   [OPQ{M}[_{d}],] ( Flat | {codec} | IVF{nlist},(Flat | {codec}) ) [,RFlat | ,Refine({codec})]
 *
 * where {codec} is any name createCodec accepts (SQ8, SQ4, SQfp16, PQ{M}[x{nbits}], RQ{M}x{b},
 * RaBitQ[b], LSH[r|h][t], ...) or PQ{M}x4fs (4-bit PQ searched by fast-scan). Examples:
 * "Flat", "SQ8", "PQ32x4fs", "RaBitQ", "IVF256,SQ8", "IVF1024,PQ16x4fs,RFlat",
 * "OPQ16,IVF1024,PQ16x4fs,RFlat", "IVF4096,RaBitQ,Refine(SQfp16)".
 */
import { ZipmlError } from '../../core/errors.js';
import { createCodec } from '../codecs/factory.js';

/** A parsed factory string. */
export interface IndexRecipe {
  /** The factory string as given. */
  factory: string;
  /** OPQ pre-rotation learned for this many sub-quantizers (0: none). */
  opqM: number;
  /** Inverted lists (0: a flat, exhaustive index). */
  nlist: number;
  /** The codec of the stored vectors: 'Flat' or a createCodec name (without the "fs" suffix). */
  codec: string;
  /** PQ{M}x4fs: searched with the 4-bit fast-scan kernels. */
  fastScan: boolean;
  /** Codec of the re-ranking store ('Flat' for RFlat), or '' without refinement. */
  refine: string;
}

/** Largest nlist a factory string may ask for. */
export const MAX_NLIST = 1 << 20;

function bad(factory: string, why: string): ZipmlError {
  return new ZipmlError('E_ARG', `index factory "${factory}": ${why}`);
}

/** Checks that a codec name is one createCodec knows, for dimension d. */
function checkCodecName(factory: string, name: string, d: number): void {
  if (name === 'Flat') return;
  try {
    createCodec(name, d);
  } catch (e) {
    throw bad(factory, e instanceof Error ? e.message : String(e));
  }
}

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const parts: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts.map((p) => p.trim());
}

/** Parses a factory string for d-dimensional vectors. */
export function parseFactory(factory: string, d: number): IndexRecipe {
  if (typeof factory !== 'string' || factory.length === 0 || factory.length > 256) throw bad(String(factory), 'must be a non-empty string of at most 256 characters');
  const parts = splitTop(factory);
  const r: IndexRecipe = { factory, opqM: 0, nlist: 0, codec: '', fastScan: false, refine: '' };
  let i = 0;
  const opq = /^OPQ([0-9]+)(?:_([0-9]+))?$/.exec(parts[i] ?? '');
  if (opq) {
    r.opqM = Number(opq[1]);
    if (r.opqM < 1 || d % r.opqM !== 0) throw bad(factory, `OPQ${r.opqM}: d = ${d} must be a multiple of M`);
    if (opq[2] !== undefined && Number(opq[2]) !== d) throw bad(factory, `OPQ with an output dimension other than d (${d}) is not supported`);
    i++;
  }
  const ivf = /^IVF([0-9]+)$/.exec(parts[i] ?? '');
  if (ivf) {
    r.nlist = Number(ivf[1]);
    if (r.nlist < 1 || r.nlist > MAX_NLIST) throw bad(factory, `IVF${ivf[1]}: nlist must be in 1..${MAX_NLIST}`);
    i++;
  }
  const codec = parts[i];
  if (codec === undefined || codec === '') throw bad(factory, r.nlist ? 'IVF must be followed by a codec (Flat, SQ8, PQ16x4fs, ...)' : 'no index type');
  const fs = /^(PQ[0-9]+)x4fs$/.exec(codec);
  if (fs) {
    r.codec = `${fs[1]}x4`;
    r.fastScan = true;
  } else {
    r.codec = codec;
  }
  if (/^(OPQ|IVF)/.test(codec)) throw bad(factory, `"${codec}" is out of place (order: OPQ, IVF, codec, refine)`);
  checkCodecName(factory, r.codec, d);
  i++;
  const refine = parts[i];
  if (refine !== undefined) {
    const m = /^Refine\((.+)\)$/.exec(refine);
    if (refine === 'RFlat') r.refine = 'Flat';
    else if (m) r.refine = m[1]!;
    else throw bad(factory, `"${refine}" is not RFlat or Refine(<codec>)`);
    checkCodecName(factory, r.refine, d);
    i++;
  }
  if (i !== parts.length) throw bad(factory, `unexpected "${parts.slice(i).join(',')}"`);
  if (r.opqM && !/^PQ/.test(r.codec)) throw bad(factory, 'OPQ is learned for a PQ codec; use it with PQ{M}...');
  return r;
}
