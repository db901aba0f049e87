/**
 * Top-k collectors for search. Every value is in the "smaller is closer" space (squared L2, or
 * minus the similarity for 'ip' / 'cos'); the index layer converts back when it reports.
 *
 * - TopK: a bounded max-heap of the k best (value, label) pairs; its top is the admission
 *   threshold, so scans compare against `threshold` and only call push() for winners.
 * - Reservoir: keeps every pair below a threshold in a buffer of capacity ~2k and, when the
 *   buffer fills, selects the k best (quickselect) and lowers the threshold to the k-th value —
 *   Faiss's ReservoirTopN. Cheaper than a heap when many candidates pass (large k, k·kFactor).
 * Both break ties by the smaller label, so results do not depend on scan order.
 */
import { ZipmlError } from '../../core/errors.js';

/** The interface the scans feed: they read `threshold` and push what beats it. */
export interface Collector {
  /** Values above this are never kept (+Infinity until k pairs were seen); scans call push()
   * only for values <= threshold, and push() settles ties at the threshold by label. */
  readonly threshold: number;
  push(value: number, label: number): void;
}

/** Largest k a collector accepts. */
export const MAX_K = 1 << 20;

export function checkK(k: number, what = 'k'): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new ZipmlError('E_ARG', `${what} must be an integer in 1..${MAX_K}, got ${String(k)}`);
}

/** (value, label) order: by value, then by label. */
function before(va: number, la: number, vb: number, lb: number): boolean {
  return va < vb || (va === vb && la < lb);
}

/** Puts (value, label) at the root of the max-heap in v/l[0..n) and sifts it down. */
function siftDown(v: Float64Array, l: Float64Array, n: number, value: number, label: number): void {
  let i = 0;
  for (;;) {
    const a = 2 * i + 1;
    if (a >= n) break;
    const c = a + 1 < n && before(v[a]!, l[a]!, v[a + 1]!, l[a + 1]!) ? a + 1 : a;
    if (!before(value, label, v[c]!, l[c]!)) break;
    v[i] = v[c]!;
    l[i] = l[c]!;
    i = c;
  }
  v[i] = value;
  l[i] = label;
}

export class TopK implements Collector {
  readonly k: number;
  private readonly vals: Float64Array;
  private readonly labels: Float64Array;
  private n = 0;
  threshold = Infinity;

  constructor(k: number) {
    checkK(k);
    this.k = k;
    this.vals = new Float64Array(k);
    this.labels = new Float64Array(k);
  }

  get size(): number {
    return this.n;
  }

  reset(): void {
    this.n = 0;
    this.threshold = Infinity;
  }

  /** Offers a pair; kept when it beats the current worst (or fewer than k are kept). */
  push(value: number, label: number): void {
    const k = this.k, v = this.vals, l = this.labels;
    if (this.n < k) {
      let i = this.n++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!before(v[p]!, l[p]!, value, label)) break;
        v[i] = v[p]!;
        l[i] = l[p]!;
        i = p;
      }
      v[i] = value;
      l[i] = label;
    } else {
      if (!before(value, label, v[0]!, l[0]!)) return;
      siftDown(v, l, k, value, label);
    }
    if (this.n === k) this.threshold = v[0]!;
  }

  /** The kept pairs, best first (heap-sorted on copies: the collector stays as it was). */
  sorted(): { values: Float64Array; labels: Float64Array } {
    const n = this.n;
    const values = this.vals.slice(0, n), labels = this.labels.slice(0, n);
    // The copy is a max-heap (worst at 0): move the worst to the end, sift down, repeat.
    for (let end = n - 1; end > 0; end--) {
      const tv = values[end]!, tl = labels[end]!;
      values[end] = values[0]!;
      labels[end] = labels[0]!;
      siftDown(values, labels, end, tv, tl);
    }
    return { values, labels };
  }
}

export class Reservoir implements Collector {
  readonly k: number;
  private vals: Float64Array;
  private labels: Float64Array;
  private n = 0;
  threshold: number;

  /** `threshold`: start with a radius (range-limited top-k) or +Infinity. */
  constructor(k: number, threshold = Infinity) {
    checkK(k);
    this.k = k;
    const cap = Math.max(2 * k, k + 16);
    this.vals = new Float64Array(cap);
    this.labels = new Float64Array(cap);
    this.threshold = threshold;
  }

  push(value: number, label: number): void {
    if (!(value <= this.threshold)) return;
    if (this.n === this.vals.length) this.shrink();
    if (!(value <= this.threshold)) return;
    this.vals[this.n] = value;
    this.labels[this.n++] = label;
  }

  /** Keeps the k best (and every tie of the k-th) and lowers the threshold to the k-th value. */
  private shrink(): void {
    const k = this.k;
    const kth = selectKth(this.vals, this.n, k);
    let m = 0;
    for (let i = 0; i < this.n; i++) {
      if (this.vals[i]! <= kth) {
        this.vals[m] = this.vals[i]!;
        this.labels[m++] = this.labels[i]!;
      }
    }
    this.n = m;
    this.threshold = Math.min(this.threshold, kth);
    if (m > this.vals.length / 2) {
      // Many ties at the k-th value: grow so pushes stay amortized O(1).
      const v = new Float64Array(this.vals.length * 2), l = new Float64Array(this.vals.length * 2);
      v.set(this.vals.subarray(0, m));
      l.set(this.labels.subarray(0, m));
      this.vals = v;
      this.labels = l;
    }
  }

  sorted(): { values: Float64Array; labels: Float64Array } {
    const n = this.n;
    const order = Array.from({ length: n }, (_, i) => i);
    const v = this.vals, l = this.labels;
    order.sort((a, b) => v[a]! - v[b]! || l[a]! - l[b]!);
    const m = Math.min(n, this.k);
    const values = new Float64Array(m), labels = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      values[i] = v[order[i]!]!;
      labels[i] = l[order[i]!]!;
    }
    return { values, labels };
  }
}

/** The k-th smallest of vals[0..n) (1-based k <= n), by quickselect on a copy. */
function selectKth(vals: Float64Array, n: number, k: number): number {
  const a = vals.slice(0, n);
  let lo = 0, hi = n - 1;
  const want = k - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1]!;
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i++] = a[j]!;
        a[j--] = t;
      }
    }
    if (want <= j) hi = j;
    else if (want >= i) lo = i;
    else return a[want]!;
  }
  return a[want]!;
}
