/**
 * The bounded max-heap the fast-scan drivers collect into, and the collector interface they
 * accept, so an index can pass its own (one collector across the lists of an IVF search).
 * Keys are min-search keys (smaller is better: distances, negated inner products); equal keys are
 * ordered by label, so results do not depend on scan order.
 */
import { ZipmlError } from '../../core/errors.js';

export interface FastScanCollector {
  /** The key a new entry must beat to enter: the worst kept key once full, Infinity before. */
  worst(): number;
  /** Offers an entry; kept if better than the worst kept one (or not full yet). */
  add(key: number, label: number): void;
}

export class BoundedMaxHeap implements FastScanCollector {
  readonly keys: Float64Array;
  readonly labels: Int32Array;
  size = 0;

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1 || k > 1 << 24) throw new ZipmlError('E_ARG', `top-k: k = ${k} must be an integer in 1..${1 << 24}`);
    this.keys = new Float64Array(k);
    this.labels = new Int32Array(k);
  }

  worst(): number {
    return this.size < this.k ? Infinity : this.keys[0]!;
  }

  private above(k1: number, l1: number, k2: number, l2: number): boolean {
    return k1 > k2 || (k1 === k2 && l1 > l2);
  }

  add(key: number, label: number): void {
    const keys = this.keys, labels = this.labels;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.above(key, label, keys[p]!, labels[p]!)) break;
        keys[i] = keys[p]!;
        labels[i] = labels[p]!;
        i = p;
      }
      keys[i] = key;
      labels[i] = label;
      return;
    }
    if (!this.above(keys[0]!, labels[0]!, key, label)) return;
    let i = 0;
    const n = this.size;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.above(keys[c + 1]!, labels[c + 1]!, keys[c]!, labels[c]!)) c++;
      if (!this.above(keys[c]!, labels[c]!, key, label)) break;
      keys[i] = keys[c]!;
      labels[i] = labels[c]!;
      i = c;
    }
    keys[i] = key;
    labels[i] = label;
  }

  /** The kept entries, best first. */
  sorted(): { labels: Int32Array; keys: Float64Array } {
    const idx = Array.from({ length: this.size }, (_, i) => i);
    idx.sort((a, b) => this.keys[a]! - this.keys[b]! || this.labels[a]! - this.labels[b]!);
    return { labels: Int32Array.from(idx, (i) => this.labels[i]!), keys: Float64Array.from(idx, (i) => this.keys[i]!) };
  }
}
