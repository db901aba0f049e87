/**
 * Index files: a VectorIndex saved as a zipml container (docs/formats.md §1) of kind
 * "vectors.index". Layout and limits are specified in docs/indexes.md ("Index file format").
 *
 * Loading does not copy the code arrays: each inverted list becomes a view into the file's bytes
 * (lists are copied only when an add makes them grow). Every section is checksummed by the
 * container; the structure (list sizes, slots, ids) is validated before the index is returned,
 * so a corrupt or hostile file gives a ZipmlError, never an index that answers wrongly.
 */
import { ZipmlError } from '../../core/errors.js';
import { ContainerBuilder, readContainer, decodeUtf8Strict, type Container, type JsonObject } from '../../core/container.js';
import { deserializeCodec } from '../codecs/serialize.js';
import { RandomOrthogonalRotation } from '../rotation.js';
import type { Metric, VectorCodec } from '../types.js';
import { VectorIndex } from './vector-index.js';
import { IdMap, MAX_STRING_ID, type IdKind } from './ids.js';
import { parseFactory } from './factory.js';

export const INDEX_CONTAINER_KIND = 'vectors.index';
export const INDEX_FORMAT_VERSION = 1;
/** Largest number of slots (stored vectors, live or removed) an index file may declare. */
export const MAX_INDEX_SLOTS = 2 ** 31 - 1;

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Serializes an index (trained or not) to a container. */
export function saveIndex(index: VectorIndex): Uint8Array {
  const b = new ContainerBuilder();
  const nlist = index.lists.nlist;
  if (index.transform) b.addSection('transform', bytesOf(index.transform.matrix));
  if (index.centroids) b.addSection('centroids', bytesOf(index.centroids));
  if (index.isTrained && index.codec.name !== 'Flat') b.addSection('codec', index.codec.serialize());
  if (index.isTrained && index.refineCodec && index.refineCodec.name !== 'Flat') b.addSection('refine-codec', index.refineCodec.serialize());
  const sizes = new Int32Array(nlist);
  let total = 0;
  for (let l = 0; l < nlist; l++) total += sizes[l] = index.lists.sizes[l]!;
  const cs = index.codec.codeSize;
  const codes = new Uint8Array(total * cs);
  const slots = new Int32Array(total);
  let at = 0;
  for (let l = 0; l < nlist; l++) {
    const li = index.lists.list(l);
    codes.set(li.codes, at * cs);
    slots.set(li.slots, at);
    at += li.n;
  }
  b.addSection('list-sizes', bytesOf(sizes));
  b.addSection('list-codes', codes);
  b.addSection('list-slots', bytesOf(slots));
  const parts = index.ids.toParts();
  if (index.refineCodec) b.addSection('refine-codes', index.refineCodes.subarray(0, parts.alive.length * index.refineCodec.codeSize));
  b.addSection('alive', parts.alive);
  if (parts.nums) b.addSection('ids', bytesOf(parts.nums));
  if (parts.strs) b.addSection('keys', new TextEncoder().encode(JSON.stringify(parts.strs)));
  const meta: JsonObject = {
    version: INDEX_FORMAT_VERSION,
    factory: index.factory,
    d: index.d,
    metric: index.metric,
    byResidual: index.byResidual,
    trained: index.isTrained,
    nlist,
    slots: parts.alive.length,
    idKind: parts.kind,
    nextId: parts.nextId,
    codeSize: cs,
    refineCodeSize: index.refineCodec?.codeSize ?? 0,
  };
  return b.finish(INDEX_CONTAINER_KIND, meta);
}

function corrupt(msg: string): ZipmlError {
  return new ZipmlError('E_CORRUPT', `index file: ${msg}`);
}

function int(meta: JsonObject, key: string, min: number, max: number): number {
  const v = meta[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw corrupt(`"${key}" must be an integer in ${min}..${max}, got ${JSON.stringify(v ?? null)}`);
  return v;
}

/** A typed view of a section when aligned, else an aligned copy; length checked. */
function typed<T extends Int32Array | Float32Array | Float64Array>(
  c: Container, name: string, ctor: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number }, count: number,
): T {
  const s = c.section(name);
  if (s.length !== count * ctor.BYTES_PER_ELEMENT) throw corrupt(`section "${name}" has ${s.length} bytes, expected ${count * ctor.BYTES_PER_ELEMENT}`);
  if (s.byteOffset % ctor.BYTES_PER_ELEMENT === 0) return new ctor(s.buffer, s.byteOffset, count);
  return new ctor(s.slice().buffer, 0, count);
}

function codecFrom(c: Container, name: string, want: VectorCodec, what: string): VectorCodec {
  if (want.name === 'Flat') return want;
  if (!c.has(name)) throw corrupt(`the ${what} codec section "${name}" is missing`);
  const codec = deserializeCodec(c.section(name));
  if (codec.name !== want.name || codec.d !== want.d || codec.codeSize !== want.codeSize) {
    throw corrupt(`the ${what} codec is ${codec.name} (d ${codec.d}, ${codec.codeSize} bytes), the factory string says ${want.name} (d ${want.d}, ${want.codeSize} bytes)`);
  }
  return codec;
}

/** Rebuilds an index from saveIndex's bytes; code arrays stay views into `bytes`. */
export function loadIndex(bytes: Uint8Array): VectorIndex {
  if (!(bytes instanceof Uint8Array)) throw new ZipmlError('E_ARG', 'loadIndex: bytes must be a Uint8Array');
  const c = readContainer(bytes);
  if (c.kind !== INDEX_CONTAINER_KIND) throw new ZipmlError('E_FORMAT', `loadIndex: container kind "${c.kind}" is not "${INDEX_CONTAINER_KIND}"`);
  const m = c.meta;
  const version = int(m, 'version', 1, 1 << 16);
  if (version > INDEX_FORMAT_VERSION) throw new ZipmlError('E_UNSUPPORTED', `index file version ${version} is newer than this reader (${INDEX_FORMAT_VERSION})`);
  const d = int(m, 'd', 1, 1 << 16);
  const metric = m.metric;
  if (metric !== 'l2' && metric !== 'ip' && metric !== 'cos') throw corrupt(`unknown metric ${JSON.stringify(metric ?? null)}`);
  if (typeof m.factory !== 'string') throw corrupt('"factory" is missing');
  let recipe;
  try {
    recipe = parseFactory(m.factory, d);
  } catch (e) {
    throw corrupt(`bad factory string: ${(e as Error).message}`);
  }
  if (typeof m.byResidual !== 'boolean' || typeof m.trained !== 'boolean') throw corrupt('"byResidual" and "trained" must be booleans');
  const index = new VectorIndex(d, recipe, { metric: metric as Metric, byResidual: m.byResidual });
  if (index.byResidual !== m.byResidual) throw corrupt(`byResidual ${String(m.byResidual)} is impossible for ${recipe.factory}`);
  const nlist = int(m, 'nlist', 1, 1 << 20);
  if (nlist !== index.lists.nlist) throw corrupt(`nlist ${nlist} does not match ${recipe.factory}`);
  const slotsN = int(m, 'slots', 0, MAX_INDEX_SLOTS);
  const nextId = int(m, 'nextId', 0, Number.MAX_SAFE_INTEGER);
  const idKind = m.idKind;
  if (idKind !== null && idKind !== 'number' && idKind !== 'string') throw corrupt(`unknown idKind ${JSON.stringify(idKind)}`);
  if (idKind === null && slotsN > 0) throw corrupt('vectors without an id kind');
  const trained = m.trained;
  if (!trained && slotsN > 0) throw corrupt('an untrained index holds vectors');

  // Trained parameters.
  let codec = index.codec, refineCodec = index.refineCodec;
  if (trained) {
    if (recipe.opqM > 0) {
      const mat = typed(c, 'transform', Float32Array, d * d).slice();
      index.transform = new RandomOrthogonalRotation(d, mat);
    }
    if (recipe.nlist > 0) index.centroids = typed(c, 'centroids', Float32Array, recipe.nlist * d).slice();
    codec = codecFrom(c, 'codec', index.codec, 'list');
    if (refineCodec) refineCodec = codecFrom(c, 'refine-codec', refineCodec, 'refinement');
  }
  const cs = int(m, 'codeSize', 0, 1 << 24);
  if (cs !== codec.codeSize) throw corrupt(`codeSize ${cs} is not ${codec.codeSize}`);
  const rcs = int(m, 'refineCodeSize', 0, 1 << 24);
  if (rcs !== (refineCodec?.codeSize ?? 0)) throw corrupt(`refineCodeSize ${rcs} is not ${refineCodec?.codeSize ?? 0}`);

  // Lists: sizes, codes (views), slots; every slot in exactly one list.
  const sizes = typed(c, 'list-sizes', Int32Array, nlist);
  let total = 0;
  for (let l = 0; l < nlist; l++) {
    const s = sizes[l]!;
    if (s < 0) throw corrupt(`list ${l} has negative size ${s}`);
    total += s;
  }
  if (total !== slotsN) throw corrupt(`the lists hold ${total} entries for ${slotsN} slots`);
  const codes = c.section('list-codes');
  if (codes.length !== total * cs) throw corrupt(`list-codes has ${codes.length} bytes, expected ${total * cs}`);
  const slots = typed(c, 'list-slots', Int32Array, total);
  const seen = new Uint8Array(slotsN);
  for (let i = 0; i < total; i++) {
    const s = slots[i]!;
    if (s < 0 || s >= slotsN) throw corrupt(`list entry ${i} has slot ${s}, outside 0..${slotsN - 1}`);
    if (seen[s]) throw corrupt(`slot ${s} is stored twice`);
    seen[s] = 1;
  }
  const alive = c.section('alive');
  if (alive.length !== slotsN) throw corrupt(`alive has ${alive.length} bytes for ${slotsN} slots`);
  let nums: Float64Array | null = null, strs: string[] | null = null;
  if (idKind === 'number' && c.has('ids')) nums = typed(c, 'ids', Float64Array, slotsN);
  if (idKind === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(decodeUtf8Strict(c.section('keys')));
    } catch {
      throw corrupt('section "keys" is not UTF-8 JSON');
    }
    if (!Array.isArray(parsed) || parsed.length !== slotsN || !parsed.every((s) => typeof s === 'string' && s.length > 0 && s.length <= MAX_STRING_ID)) {
      throw corrupt(`section "keys" must be an array of ${slotsN} strings of 1..${MAX_STRING_ID} characters`);
    }
    strs = parsed as string[];
  }
  const ids = IdMap.fromParts(idKind as IdKind | null, nums, strs, alive, nextId);
  index.restore({ codec, refineCodec, ids, trained });
  let at = 0;
  for (let l = 0; l < nlist; l++) {
    const n = sizes[l]!;
    index.lists.adopt(l, codes.subarray(at * cs, (at + n) * cs), slots.subarray(at, at + n));
    at += n;
  }
  if (refineCodec) {
    const rc = c.section('refine-codes');
    if (rc.length !== slotsN * rcs) throw corrupt(`refine-codes has ${rc.length} bytes, expected ${slotsN * rcs}`);
    index.refineCodes = rc;
    index.refineBorrowed = true;
  }
  return index;
}
