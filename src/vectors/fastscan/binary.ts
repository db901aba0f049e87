/**
 * Top-k over binary (sign / LSH) codes by Hamming distance: the popcount kernel of vcodes
 * (WebAssembly i8x16.popcnt) over windows of rows, and a bounded heap that only sees rows below
 * its current worst distance. Ties are ordered by label.
 */
import { ZipmlError } from '../../core/errors.js';
import { hamming } from '../codecs/vcodes.js';
import { TopK, type Collector } from '../search/topk.js';

export interface HammingKnnOptions {
  filter?: ((label: number) => boolean) | undefined;
  labels?: Int32Array | undefined;
  /** Only rows at a distance below this are returned. */
  threshold?: number | undefined;
}

// Rows per kernel call.
const WINDOW = 4096;

/** Scans n codes into `collector` (keys: Hamming distances); one collector may span several lists. */
export function hammingInto(collector: Collector, q: Uint8Array, codes: Uint8Array, n: number, cs: number, m: number, opts: HammingKnnOptions = {}): void {
  if (!Number.isInteger(m) || m < 1 || m > cs || q.length < m) throw new ZipmlError('E_ARG', `hamming scan: m = ${m} must be in 1..${Math.min(cs, q.length)}`);
  if (!Number.isInteger(n) || n < 0 || codes.length < n * cs) throw new ZipmlError('E_ARG', `hamming scan: ${codes.length} bytes hold fewer than ${n} rows of ${cs}`);
  if (opts.labels && opts.labels.length < n) throw new ZipmlError('E_ARG', `hamming scan: ${opts.labels.length} labels for ${n} rows`);
  const cap = opts.threshold ?? Infinity;
  const dist = new Uint32Array(Math.min(n, WINDOW));
  for (let r0 = 0; r0 < n; r0 += WINDOW) {
    const rows = Math.min(WINDOW, n - r0);
    hamming(q, codes.subarray(r0 * cs, (r0 + rows) * cs), rows, cs, m, dist);
    for (let i = 0; i < rows; i++) {
      const v = dist[i]!;
      if (!(v < cap) || v > collector.threshold) continue;
      const label = opts.labels ? opts.labels[r0 + i]! : r0 + i;
      if (opts.filter && !opts.filter(label)) continue;
      collector.push(v, label);
    }
  }
}

/**
 * The k rows nearest to q among n codes of `cs` bytes (the first m bytes compared), best first,
 * with their Hamming distances; fewer than k when fewer rows pass the filter or threshold.
 */
export function hammingKnn(q: Uint8Array, codes: Uint8Array, n: number, cs: number, m: number, k: number, opts: HammingKnnOptions = {}): { rows: Int32Array; dist: Uint32Array } {
  const heap = new TopK(k);
  hammingInto(heap, q, codes, n, cs, m, opts);
  const { labels, values } = heap.sorted();
  return { rows: Int32Array.from(labels), dist: Uint32Array.from(values) };
}
