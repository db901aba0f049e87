/**
 * Search filters, evaluated inside the scan: a candidate that would enter the top-k is checked
 * before it is kept, so a filtered search returns the k best *matching* vectors (fewer when fewer
 * match) instead of filtering a top-k afterwards.
 *
 * A filter is either an IdSet (numeric or string ids; a bitmap for dense integer ids, a hash set
 * otherwise) or a predicate on the external id. IdSets can be sent to worker threads; predicates
 * cannot (a parallel search with a predicate runs on the calling thread).
 */
import { ZipmlError } from '../../core/errors.js';

export type VectorId = number | string;

/** A set of allowed (or, with `exclude`, refused) external ids. */
export class IdSet {
  /** Bitmap over integer ids 0..bits.length*32-1 (dense numeric sets). */
  private readonly bits: Uint32Array | null;
  private readonly set: Set<VectorId> | null;
  readonly exclude: boolean;
  readonly size: number;

  constructor(ids: Iterable<VectorId>, opts: { exclude?: boolean } = {}) {
    const list = Array.from(ids);
    this.exclude = opts.exclude === true;
    this.size = list.length;
    let max = -1;
    let dense = list.length > 0;
    for (const id of list) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
        dense = false;
        if (typeof id !== 'string' && typeof id !== 'number') throw new ZipmlError('E_ARG', `IdSet: ids must be numbers or strings, got ${typeof id}`);
        continue;
      }
      if (id > max) max = id;
    }
    // A bitmap when it costs at most ~4 bytes per listed id (or 64 KiB).
    if (dense && max < Math.max(list.length * 32, 1 << 19)) {
      const bits = new Uint32Array((max >>> 5) + 1);
      for (const id of list as number[]) bits[id >>> 5]! |= 1 << (id & 31);
      this.bits = bits;
      this.set = null;
    } else {
      this.bits = null;
      this.set = new Set(list);
    }
  }

  /** Whether the id passes the filter. */
  allows(id: VectorId): boolean {
    let inSet: boolean;
    if (this.bits) {
      inSet = typeof id === 'number' && Number.isInteger(id) && id >= 0 && (id >>> 5) < this.bits.length
        && (this.bits[id >>> 5]! & (1 << (id & 31))) !== 0;
    } else {
      inSet = this.set!.has(id);
    }
    return inSet !== this.exclude;
  }

  /** The ids, for sending to a worker. */
  toJSON(): { ids: VectorId[]; exclude: boolean } {
    const ids: VectorId[] = [];
    if (this.bits) {
      for (let w = 0; w < this.bits.length; w++) {
        let x = this.bits[w]!;
        while (x !== 0) {
          const b = 31 - Math.clz32(x & -x);
          ids.push(w * 32 + b);
          x &= x - 1;
        }
      }
    } else {
      for (const id of this.set!) ids.push(id);
    }
    return { ids, exclude: this.exclude };
  }
}

export type SearchFilter = IdSet | ((id: VectorId) => boolean);

/** Whether `id` passes `filter` (no filter: everything passes). */
export function filterAllows(filter: SearchFilter | undefined, id: VectorId): boolean {
  if (filter === undefined) return true;
  return typeof filter === 'function' ? filter(id) === true : filter.allows(id);
}
