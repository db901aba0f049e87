/**
 * Indexes on declared payload fields, turning a filter into the set of allowed ids (an IdSet)
 * that the vector scan checks for every candidate — the filter runs inside the scan, not after.
 *
 * Per field: an equality map value → ids (strings, numbers and booleans are distinct values) and,
 * for numbers, a sorted (value, id) array built lazily after changes, answered by binary search.
 *
 * Filter syntax (all conditions must hold):
 *   { "color": "red", "price": { "gte": 10, "lt": 20 }, "tag": { "in": ["a", "b"] }, "n": { "eq": 3 } }
 */
import { ZipmlError } from '../core/errors.js';
import { IdSet, type VectorId } from '../vectors/index.js';

export type Scalar = string | number | boolean;

export class FilterError extends ZipmlError {
  constructor(message: string) {
    super('E_ARG', message);
  }
}

const keyOf = (v: Scalar): string => `${typeof v === 'string' ? 's' : typeof v === 'number' ? 'n' : 'b'}:${String(v)}`;

const isScalar = (v: unknown): v is Scalar =>
  typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));

class FieldIndex {
  readonly values = new Map<VectorId, Scalar>();
  readonly eq = new Map<string, Set<VectorId>>();
  private sorted: { vals: Float64Array; ids: VectorId[] } | null = null;

  set(id: VectorId, v: unknown): void {
    this.delete(id);
    if (!isScalar(v)) return;
    this.values.set(id, v);
    const k = keyOf(v);
    let s = this.eq.get(k);
    if (!s) this.eq.set(k, (s = new Set()));
    s.add(id);
    if (typeof v === 'number') this.sorted = null;
  }

  delete(id: VectorId): void {
    const old = this.values.get(id);
    if (old === undefined) return;
    this.values.delete(id);
    const k = keyOf(old);
    const s = this.eq.get(k)!;
    s.delete(id);
    if (s.size === 0) this.eq.delete(k);
    if (typeof old === 'number') this.sorted = null;
  }

  match(v: Scalar): Iterable<VectorId> {
    return this.eq.get(keyOf(v)) ?? [];
  }

  range(lo: number, loIncl: boolean, hi: number, hiIncl: boolean): VectorId[] {
    if (!this.sorted) {
      const pairs: [number, VectorId][] = [];
      for (const [id, v] of this.values) if (typeof v === 'number') pairs.push([v, id]);
      pairs.sort((a, b) => a[0] - b[0]);
      this.sorted = { vals: Float64Array.from(pairs, (p) => p[0]), ids: pairs.map((p) => p[1]) };
    }
    const { vals, ids } = this.sorted;
    // First index whose value passes the lower bound.
    let a = 0, b = vals.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (vals[m]! > lo || (loIncl && vals[m] === lo)) b = m;
      else a = m + 1;
    }
    const out: VectorId[] = [];
    for (let i = a; i < vals.length; i++) {
      const x = vals[i]!;
      if (x > hi || (!hiIncl && x === hi)) break;
      out.push(ids[i]!);
    }
    return out;
  }
}

export class PayloadIndex {
  private readonly fields = new Map<string, FieldIndex>();

  constructor(readonly names: readonly string[]) {
    for (const f of names) this.fields.set(f, new FieldIndex());
  }

  /** Indexes the declared fields of a payload (replacing the id's previous values). */
  set(id: VectorId, payload: unknown): void {
    const obj = payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : {};
    for (const [name, fi] of this.fields) fi.set(id, obj[name]);
  }

  /** Indexes already-extracted values (one per declared field, in order). */
  setValues(id: VectorId, values: readonly unknown[]): void {
    let i = 0;
    for (const fi of this.fields.values()) fi.set(id, values[i++]);
  }

  delete(id: VectorId): void {
    for (const fi of this.fields.values()) fi.delete(id);
  }

  /** The declared fields' values of a payload, in declaration order (null where absent). */
  extract(payload: unknown): Scalar[] | null[] {
    const obj = payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : {};
    return this.names.map((n) => (isScalar(obj[n]) ? obj[n] : null)) as Scalar[];
  }

  /** The allowed ids of a filter, as an IdSet for the scan. Throws FilterError on a bad filter. */
  toIdSet(filter: unknown): IdSet {
    if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) throw new FilterError('filter must be an object of field conditions');
    const sets: VectorId[][] = [];
    for (const [name, cond] of Object.entries(filter as Record<string, unknown>)) {
      const fi = this.fields.get(name);
      if (!fi) throw new FilterError(`field ${JSON.stringify(name)} is not indexed (declare it in payloadIndex when creating the collection)`);
      sets.push(this.condition(fi, name, cond));
    }
    if (sets.length === 0) throw new FilterError('filter has no conditions');
    return new IdSet(intersect(sets));
  }

  private condition(fi: FieldIndex, name: string, cond: unknown): VectorId[] {
    if (isScalar(cond)) return [...fi.match(cond)];
    if (cond === null || typeof cond !== 'object' || Array.isArray(cond)) {
      throw new FilterError(`condition on ${JSON.stringify(name)} must be a value, {"in": [...]}, {"eq": v} or a range {"gt"|"gte"|"lt"|"lte": number}`);
    }
    const c = cond as Record<string, unknown>;
    const keys = Object.keys(c);
    const known = ['eq', 'in', 'gt', 'gte', 'lt', 'lte'];
    for (const k of keys) if (!known.includes(k)) throw new FilterError(`unknown operator ${JSON.stringify(k)} on ${JSON.stringify(name)}`);
    if (keys.length === 0) throw new FilterError(`empty condition on ${JSON.stringify(name)}`);
    const parts: VectorId[][] = [];
    if ('eq' in c) {
      if (!isScalar(c.eq)) throw new FilterError(`eq on ${JSON.stringify(name)} must be a string, number or boolean`);
      parts.push([...fi.match(c.eq)]);
    }
    if ('in' in c) {
      if (!Array.isArray(c.in) || c.in.length > 10_000 || !c.in.every(isScalar)) throw new FilterError(`in on ${JSON.stringify(name)} must be an array of at most 10,000 values`);
      const u = new Set<VectorId>();
      for (const v of c.in as Scalar[]) for (const id of fi.match(v)) u.add(id);
      parts.push([...u]);
    }
    if (['gt', 'gte', 'lt', 'lte'].some((k) => k in c)) {
      for (const k of ['gt', 'gte', 'lt', 'lte']) {
        if (k in c && !(typeof c[k] === 'number' && Number.isFinite(c[k]))) throw new FilterError(`${k} on ${JSON.stringify(name)} must be a finite number`);
      }
      const lo = (c.gte ?? c.gt ?? -Infinity) as number;
      const hi = (c.lte ?? c.lt ?? Infinity) as number;
      if ('gt' in c && 'gte' in c) throw new FilterError(`use gt or gte on ${JSON.stringify(name)}, not both`);
      if ('lt' in c && 'lte' in c) throw new FilterError(`use lt or lte on ${JSON.stringify(name)}, not both`);
      parts.push(fi.range(lo, !('gt' in c), hi, !('lt' in c)));
    }
    return intersect(parts);
  }
}

/** Ids present in every list (smallest list first). */
function intersect(lists: VectorId[][]): VectorId[] {
  if (lists.length === 1) return lists[0]!;
  lists.sort((a, b) => a.length - b.length);
  let acc = new Set(lists[0]);
  for (let i = 1; i < lists.length && acc.size > 0; i++) acc = new Set(lists[i]!.filter((id) => acc.has(id)));
  return [...acc];
}
