/**
 * deserializeCodec: the inverse of every codec's serialize(). A serialized codec is a zipml
 * container of kind 'vectors.codec' whose header meta names the codec ("codec": "sq", "binary",
 * "rabitq", "matryoshka") with its version and parameters; arrays live in sections. The layout of
 * each codec's meta and sections is in docs/codecs.md.
 *
 * Everything read is validated (types, ranges, section sizes, finite floats, orthogonality of
 * stored rotations) and any failure is a ZipmlError: E_CORRUPT for inconsistent content,
 * E_FORMAT for an unknown codec or version, E_LIMIT for sizes past the documented bounds.
 */
import { ZipmlError } from '../../core/errors.js';
import { readContainer, type Container, type JsonObject } from '../../core/container.js';
import type { VectorCodec } from '../types.js';
import { bytesF32, readTransform, type VectorTransform } from '../rotation.js';
import { ScalarQuantizer, SQ_TYPES, type SQType, type RangeStat } from './sq.js';
import { BinaryCodec, type BinaryRotation } from './binary.js';
import { RaBitQCodec, type RaBitQRotation } from './rabitq.js';
import { MatryoshkaCodec } from './matryoshka.js';
import { readPQ } from './pq.js';
import { readOPQ } from './opq.js';
import { readRQ } from './rq.js';

/** Largest dimension a serialized codec may declare. */
export const MAX_CODEC_DIM = 1 << 16;
/** How deep wrapping codecs (Matryoshka) may nest. */
export const MAX_CODEC_NESTING = 4;

export const CODEC_CONTAINER_KIND = 'vectors.codec';

/** Rebuilds a codec from serialize()'s bytes. */
export function deserializeCodec(bytes: Uint8Array): VectorCodec {
  return readCodec(bytes, 0);
}

function readCodec(bytes: Uint8Array, depth: number): VectorCodec {
  if (!(bytes instanceof Uint8Array)) throw new ZipmlError('E_ARG', 'deserializeCodec: bytes must be a Uint8Array');
  const c = readContainer(bytes);
  if (c.kind !== CODEC_CONTAINER_KIND) throw new ZipmlError('E_FORMAT', `deserializeCodec: container kind "${c.kind}" is not "${CODEC_CONTAINER_KIND}"`);
  const meta = c.meta;
  const codec = meta.codec;
  const r = new MetaReader(meta, `codec ${typeof codec === 'string' ? codec : '?'}`);
  switch (codec) {
    case 'sq':
      return readSQ(c, r);
    case 'binary':
      return readBinary(c, r);
    case 'rabitq':
      return readRaBitQ(c, r);
    case 'matryoshka':
      return readMatryoshka(c, r, depth);
    case 'pq':
      return readPQ(c, r);
    case 'opq':
      return readOPQ(c, r);
    case 'rq':
      return readRQ(c, r);
    default:
      throw new ZipmlError('E_FORMAT', `deserializeCodec: unknown codec ${JSON.stringify(codec ?? null)}`);
  }
}

/** Typed, checked access to a codec's header meta. */
class MetaReader {
  constructor(readonly meta: JsonObject, readonly where: string) {}

  corrupt(msg: string): ZipmlError {
    return new ZipmlError('E_CORRUPT', `${this.where}: ${msg}`);
  }

  version(supported: number): void {
    const v = this.meta.version;
    if (v !== supported) throw new ZipmlError('E_FORMAT', `${this.where}: version ${JSON.stringify(v ?? null)} is not supported (this reader knows ${supported})`);
  }

  int(key: string, min: number, max: number): number {
    const v = this.meta[key];
    if (typeof v !== 'number' || !Number.isInteger(v)) throw this.corrupt(`"${key}" must be an integer`);
    if (v < min || v > max) throw new ZipmlError(v > max ? 'E_LIMIT' : 'E_CORRUPT', `${this.where}: "${key}" = ${v} is outside ${min}..${max}`);
    return v;
  }

  num(key: string): number {
    const v = this.meta[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw this.corrupt(`"${key}" must be a finite number`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.meta[key];
    if (typeof v !== 'boolean') throw this.corrupt(`"${key}" must be a boolean`);
    return v;
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T {
    const v = this.meta[key];
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw this.corrupt(`"${key}" must be one of ${values.join(', ')}`);
    return v as T;
  }

  /** Float section of exactly `count` finite values. */
  floats(c: Container, name: string, count: number): Float32Array {
    if (!c.has(name)) throw this.corrupt(`section "${name}" is missing`);
    const b = c.section(name);
    if (b.length !== 4 * count) throw this.corrupt(`section "${name}" has ${b.length} bytes, expected ${4 * count}`);
    const a = bytesF32(b);
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw this.corrupt(`section "${name}" value ${i} is not finite`);
    return a;
  }

  /** Rejects sections other than `names` (a stray section means the writer was not ours). */
  onlySections(c: Container, names: string[]): void {
    for (const s of c.sections) if (!names.includes(s.name)) throw this.corrupt(`unexpected section "${s.name}"`);
  }

  /** Wraps constructor/setter argument errors as corruption of this container. */
  build<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof ZipmlError && e.code === 'E_ARG') throw new ZipmlError('E_CORRUPT', `${this.where}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  transform(c: Container, d: number, trained: boolean, kind: string): VectorTransform | null {
    if (!trained || kind === 'none') {
      if (this.meta.transform !== undefined) throw this.corrupt('unexpected transform');
      return null;
    }
    const t = this.build(() => readTransform(c, this.meta.transform, d, this.where));
    if (t.kind !== kind) throw this.corrupt(`transform is ${t.kind}, the codec says ${kind}`);
    return t;
  }
}

function readSQ(c: Container, r: MetaReader): ScalarQuantizer {
  r.version(1);
  const d = r.int('d', 1, MAX_CODEC_DIM);
  const qtype = r.oneOf<SQType>('qtype', SQ_TYPES);
  const rangeStat = r.oneOf<RangeStat>('rangeStat', ['minmax', 'meanstd', 'quantiles']);
  const rangeStatArg = r.num('rangeStatArg');
  const trained = r.bool('trained');
  const sq = r.build(() => new ScalarQuantizer(d, qtype, { rangeStat, rangeStatArg }));
  if (sq.bits === 16) {
    if (!trained) throw r.corrupt('fp16/bf16 codecs are always trained');
    r.onlySections(c, []);
    return sq;
  }
  if (!trained) {
    r.onlySections(c, []);
    return sq;
  }
  r.onlySections(c, ['ranges']);
  const k = sq.uniform ? 1 : d;
  const p = r.floats(c, 'ranges', 2 * k);
  r.build(() => sq.setRanges(p.slice(0, k), p.slice(k)));
  return sq;
}

function readBinary(c: Container, r: MetaReader): BinaryCodec {
  r.version(1);
  const d = r.int('d', 1, MAX_CODEC_DIM);
  const rotation = r.oneOf<BinaryRotation>('rotation', ['none', 'orthogonal', 'hadamard']);
  const thresholds = r.bool('thresholds');
  const trained = r.bool('trained');
  const codec = r.build(() => new BinaryCodec(d, { rotation, thresholds }));
  if (!trained) {
    r.onlySections(c, []);
    r.transform(c, d, false, rotation);
    return codec;
  }
  r.onlySections(c, rotation === 'none' ? ['levels'] : ['levels', 'rotation']);
  const p = r.floats(c, 'levels', 3 * d);
  const t = r.transform(c, d, true, rotation);
  r.build(() => codec.setParams(t, p.slice(0, d), p.slice(d, 2 * d), p.slice(2 * d)));
  return codec;
}

function readRaBitQ(c: Container, r: MetaReader): RaBitQCodec {
  r.version(1);
  const d = r.int('d', 1, MAX_CODEC_DIM);
  const nbBits = r.int('nbBits', 1, 9);
  const rotation = r.oneOf<RaBitQRotation>('rotation', ['none', 'orthogonal', 'hadamard']);
  const epsilon0 = r.num('epsilon0');
  const trained = r.bool('trained');
  const codec = r.build(() => new RaBitQCodec(d, { nbBits, rotation, epsilon0 }));
  if (!trained) {
    r.onlySections(c, []);
    r.transform(c, d, false, rotation);
    return codec;
  }
  r.onlySections(c, rotation === 'none' ? ['center'] : ['center', 'rotation']);
  const center = r.floats(c, 'center', d);
  const t = r.transform(c, d, true, rotation);
  r.build(() => codec.setParams(t, center));
  return codec;
}

function readMatryoshka(c: Container, r: MetaReader, depth: number): MatryoshkaCodec {
  r.version(1);
  if (depth >= MAX_CODEC_NESTING) throw new ZipmlError('E_LIMIT', `${r.where}: codecs nest deeper than ${MAX_CODEC_NESTING}`);
  const d = r.int('d', 1, MAX_CODEC_DIM);
  const m = r.int('m', 1, d);
  const normalize = r.bool('normalize');
  r.onlySections(c, ['inner']);
  if (!c.has('inner')) throw r.corrupt('section "inner" is missing');
  const inner = readCodec(c.section('inner'), depth + 1);
  return r.build(() => new MatryoshkaCodec(d, m, inner, { normalize }));
}
