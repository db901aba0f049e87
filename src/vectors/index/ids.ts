/**
 * External ids of an index's vectors. Internally every vector has a slot (its row number in
 * insertion order); this maps slots to the ids users gave — integers (|id| < 2^53) or strings,
 * one kind per index — and back, and marks removed slots (tombstones) until compaction.
 *
 * The common case, ids 0, 1, 2, … in insertion order (adds without ids), is kept implicit: no
 * id array and no hash map (which costs tens of bytes per vector in V8), the id is the slot.
 * The first add that breaks the pattern, an upsert, or a compaction that renumbers slots turns
 * the explicit form on.
 */
import { ZipmlError } from '../../core/errors.js';
import type { VectorId } from '../search/filter.js';

export type IdKind = 'number' | 'string';

/** Longest string id, in UTF-16 code units. */
export const MAX_STRING_ID = 1024;

export class IdMap {
  kind: IdKind | null = null;
  private nums = new Float64Array(0);
  private strs: string[] = [];
  private readonly bySlot = new Map<VectorId, number>();
  /** Implicit ids: slot s has numeric id s (no nums, no map). */
  private identity = true;
  private alive = new Uint8Array(0);
  private n = 0;
  private dead = 0;
  /** Next id for adds without ids: one past the largest numeric id so far. */
  nextId = 0;

  /** Number of slots, alive or not. */
  get slots(): number {
    return this.n;
  }

  /** Live vectors. */
  get count(): number {
    return this.n - this.dead;
  }

  get removed(): number {
    return this.dead;
  }

  isAlive(slot: number): boolean {
    return this.alive[slot] === 1;
  }

  /** The alive flags, one byte per slot (a view; do not keep across adds). */
  aliveFlags(): Uint8Array {
    return this.alive.subarray(0, this.n);
  }

  idOf(slot: number): VectorId {
    if (this.identity) return slot;
    return this.kind === 'string' ? this.strs[slot]! : this.nums[slot]!;
  }

  slotOf(id: VectorId): number | undefined {
    if (this.identity) return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < this.n && this.alive[id] === 1 ? id : undefined;
    return this.bySlot.get(id);
  }

  /** Whether ids are implicit (slot s has id s). */
  get implicit(): boolean {
    return this.identity;
  }

  /** Leaves the implicit form: writes every slot's id and maps the live ones. */
  private materialize(): void {
    if (!this.identity) return;
    this.identity = false;
    if (this.kind === null) return;
    const nums = new Float64Array(Math.max(this.alive.length, 1));
    for (let s = 0; s < this.n; s++) {
      nums[s] = s;
      if (this.alive[s] === 1) this.bySlot.set(s, s);
    }
    this.nums = nums;
  }

  /** Validates ids for an add of `m` vectors; returns them (generated when absent). */
  prepare(m: number, ids?: ArrayLike<number> | readonly string[]): VectorId[] {
    const out: VectorId[] = new Array(m);
    if (ids === undefined) {
      if (this.kind === 'string') throw new ZipmlError('E_ARG', 'this index has string ids; add() needs ids');
      for (let i = 0; i < m; i++) out[i] = this.nextId + i;
      return out;
    }
    if (ids.length !== m) throw new ZipmlError('E_ARG', `${ids.length} ids for ${m} vectors`);
    const seen = new Set<VectorId>();
    for (let i = 0; i < m; i++) {
      const id = ids[i] as VectorId;
      const kind: IdKind = typeof id === 'string' ? 'string' : 'number';
      if (kind === 'number' && !(typeof id === 'number' && Number.isSafeInteger(id))) throw new ZipmlError('E_ARG', `id ${i} must be a safe integer or a string, got ${String(id)}`);
      if (kind === 'string' && ((id as string).length === 0 || (id as string).length > MAX_STRING_ID)) throw new ZipmlError('E_ARG', `string id ${i} must have 1..${MAX_STRING_ID} characters`);
      const expect = this.kind ?? (i > 0 ? (typeof out[0] === 'string' ? 'string' : 'number') : kind);
      if (kind !== expect) throw new ZipmlError('E_ARG', `id ${i} is a ${kind} but this index uses ${expect} ids`);
      if (seen.has(id)) throw new ZipmlError('E_ARG', `id ${JSON.stringify(id)} appears twice in one add`);
      seen.add(id);
      out[i] = id;
    }
    return out;
  }

  /** Appends slots for ids (checked by prepare; existing live ids must have been removed). */
  push(ids: readonly VectorId[]): number {
    const first = this.n;
    if (ids.length === 0) return first;
    this.kind ??= typeof ids[0] === 'string' ? 'string' : 'number';
    if (this.identity && !ids.every((id, i) => id === first + i)) this.materialize();
    const need = this.n + ids.length;
    if (need > this.alive.length) {
      const cap = Math.max(need, this.alive.length * 2, 64);
      const a = new Uint8Array(cap);
      a.set(this.alive.subarray(0, this.n));
      this.alive = a;
      if (this.kind === 'number' && !this.identity) {
        const nn = new Float64Array(cap);
        nn.set(this.nums.subarray(0, this.n));
        this.nums = nn;
      }
    }
    if (this.identity) {
      // Ids first..first+m−1 are new by construction.
      this.alive.fill(1, first, first + ids.length);
      this.n += ids.length;
      this.nextId = this.n;
      return first;
    }
    for (const id of ids) {
      const prev = this.bySlot.get(id);
      if (prev !== undefined) throw new ZipmlError('E_ARG', `id ${JSON.stringify(id)} is already in the index (remove it first, or add with { upsert: true })`);
      const s = this.n++;
      if (this.kind === 'string') this.strs[s] = id as string;
      else {
        this.nums[s] = id as number;
        if ((id as number) >= this.nextId) this.nextId = (id as number) + 1;
      }
      this.alive[s] = 1;
      this.bySlot.set(id, s);
    }
    return first;
  }

  /** Marks the slot of `id` removed; returns whether it was present. */
  remove(id: VectorId): boolean {
    const s = this.slotOf(id);
    if (s === undefined) return false;
    this.bySlot.delete(id);
    this.alive[s] = 0;
    this.dead++;
    return true;
  }

  /** Renumbers live slots densely; returns old slot → new slot (−1 for removed). */
  compact(): Int32Array {
    if (this.dead > 0) this.materialize();
    const remap = new Int32Array(this.n).fill(-1);
    let m = 0;
    for (let s = 0; s < this.n; s++) {
      if (this.alive[s] !== 1) continue;
      remap[s] = m;
      if (this.kind === 'string') this.strs[m] = this.strs[s]!;
      else this.nums[m] = this.nums[s]!;
      this.alive[m] = 1;
      this.bySlot.set(this.idOf(m), m);
      m++;
    }
    this.alive.fill(0, m);
    if (this.kind === 'string') this.strs.length = m;
    this.n = m;
    this.dead = 0;
    return remap;
  }

  /** Serialized form: numeric ids as float64, or string ids as JSON; alive flags. */
  toParts(): { kind: IdKind | null; nums: Float64Array | null; strs: string[] | null; alive: Uint8Array; nextId: number } {
    return {
      kind: this.kind,
      nums: this.kind === 'number' && !this.identity ? this.nums.subarray(0, this.n) : null,
      strs: this.kind === 'string' ? this.strs.slice(0, this.n) : null,
      alive: this.alive.subarray(0, this.n),
      nextId: this.nextId,
    };
  }

  /** Rebuilds from toParts' output (validated by the caller's format checks). */
  static fromParts(kind: IdKind | null, nums: Float64Array | null, strs: string[] | null, alive: Uint8Array, nextId: number): IdMap {
    const m = new IdMap();
    const n = alive.length;
    m.kind = kind;
    m.identity = nums === null && kind !== 'string';
    if (m.identity && nextId !== n) throw new ZipmlError('E_CORRUPT', `implicit ids need nextId = ${n}, got ${nextId}`);
    m.n = n;
    m.alive = alive.slice();
    m.nextId = nextId;
    if (kind === 'number' && nums) m.nums = nums.slice();
    if (kind === 'string') m.strs = strs!.slice();
    for (let s = 0; s < n; s++) {
      const a = m.alive[s]!;
      if (a > 1) throw new ZipmlError('E_CORRUPT', `alive flag of slot ${s} is ${a}`);
      if (a === 0) {
        m.dead++;
        continue;
      }
      if (m.identity) continue;
      const id = m.idOf(s);
      if (kind === 'number' && !Number.isSafeInteger(id)) throw new ZipmlError('E_CORRUPT', `id of slot ${s} is not a safe integer`);
      if (m.bySlot.has(id)) throw new ZipmlError('E_CORRUPT', `id ${JSON.stringify(id)} appears twice`);
      m.bySlot.set(id, s);
    }
    return m;
  }
}
