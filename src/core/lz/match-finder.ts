/**
 * Match finders over a whole input buffer (positions are absolute, -1 = empty).
 *
 * - `HashChain` (fast levels): a 3-byte hash head per bucket and a cyclic chain of earlier
 *   positions; returns the longest match found within `depth` links.
 * - `BinaryTree` (optimal levels, bt4-style): exact 2-byte and hashed 3-byte heads for short close
 *   matches, and a binary search tree per 4-byte hash over the window, ordered by the bytes that
 *   follow each position. Each lookup re-roots the tree at the current position, so a walk of at
 *   most `depth` nodes yields the matches of every length in increasing order.
 */
export function commonLength(data: Uint8Array, a: number, b: number, limit: number): number {
  let len = 0;
  while (len < limit && data[a + len] === data[b + len]) len++;
  return len;
}

const GOLDEN = 0x9e3779b1 | 0;

function read32(d: Uint8Array, p: number): number {
  return d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16) | (d[p + 3]! << 24);
}

function hashBitsFor(n: number, max: number): number {
  return Math.max(12, Math.min(max, 32 - Math.clz32(Math.max(1, n)) - 1));
}

export class HashChain {
  private readonly head: Int32Array;
  private readonly chain: Int32Array;
  private readonly shift: number;
  private readonly wmask: number;
  private readonly window: number;
  /** Positions below this are in the chains. */
  next = 0;
  matchDist = 0;

  constructor(private readonly data: Uint8Array, windowLog: number) {
    const n = data.length;
    const bits = hashBitsFor(n, 20);
    this.shift = 32 - bits;
    this.head = new Int32Array(1 << bits).fill(-1);
    const wlog = Math.min(windowLog, Math.max(4, 32 - Math.clz32(n)));
    this.chain = new Int32Array(1 << wlog);
    this.wmask = (1 << wlog) - 1;
    this.window = 1 << wlog;
  }

  private hash(p: number): number {
    const d = this.data;
    return Math.imul(d[p]! | (d[p + 1]! << 8) | (d[p + 2]! << 16), GOLDEN) >>> this.shift;
  }

  /** Adds every position below `end` not yet added. */
  insertUpTo(end: number): void {
    const last = Math.min(end, this.data.length - 2);
    for (let p = this.next; p < last; p++) {
      const h = this.hash(p);
      this.chain[p & this.wmask] = this.head[h]!;
      this.head[h] = p;
    }
    if (end > this.next) this.next = end;
  }

  /** Longest match (>= 3 bytes) for position `p`, with `matchDist` set; 0 if none. Inserts up to p. */
  find(p: number, depth: number, niceLen: number, limit: number): number {
    this.insertUpTo(p);
    if (limit < 3) {
      this.insertUpTo(p + 1);
      return 0;
    }
    const d = this.data;
    let cur = this.head[this.hash(p)]!;
    while (cur >= p) cur = this.chain[cur & this.wmask]!; // positions already added by a lazy look-ahead
    let best = 2;
    const nice = Math.min(niceLen, limit);
    while (cur >= 0 && depth-- > 0 && p - cur < this.window) {
      if (d[cur + best] === d[p + best] && d[cur] === d[p]) {
        const len = commonLength(d, cur, p, limit);
        if (len > best) {
          best = len;
          this.matchDist = p - cur - 1;
          if (len >= nice) break;
        }
      }
      cur = this.chain[cur & this.wmask]!;
    }
    this.insertUpTo(p + 1);
    return best > 2 ? best : 0;
  }
}

export class BinaryTree {
  private readonly son: Int32Array;
  private readonly h2 = new Int32Array(1 << 16).fill(-1);
  private readonly h3 = new Int32Array(1 << 16).fill(-1);
  private readonly h4: Int32Array;
  private readonly shift4: number;
  private readonly cyclic: number;
  private cyclicPos = 0;
  pos = 0;

  constructor(private readonly data: Uint8Array, windowLog: number, private readonly depth: number, private readonly niceLen: number) {
    const n = data.length;
    this.cyclic = Math.max(2, Math.min(2 ** windowLog, n + 1));
    this.son = new Int32Array(this.cyclic * 2);
    const bits = hashBitsFor(n, 22);
    this.shift4 = 32 - bits;
    this.h4 = new Int32Array(1 << bits).fill(-1);
  }

  /**
   * Matches at the current position as (length, 0-based distance) pairs with strictly increasing
   * lengths, written to `out`; returns the number of ints written. Advances one position.
   */
  getMatches(out: Int32Array): number {
    return this.step(out, true);
  }

  skip(count: number): void {
    for (let i = 0; i < count; i++) this.step(null, false);
  }

  private step(out: Int32Array | null, record: boolean): number {
    const d = this.data, p = this.pos;
    const avail = d.length - p;
    const cp = this.cyclicPos;
    this.pos = p + 1;
    this.cyclicPos = cp + 1 === this.cyclic ? 0 : cp + 1;
    if (avail < 4) {
      // Too short to hash: the position stays out of the tree (nothing after it can reach it).
      this.son[cp * 2] = this.son[cp * 2 + 1] = -1;
      return 0;
    }
    const lenLimit = Math.min(this.niceLen, avail, 273);
    const cyc = this.cyclic;
    const k2 = d[p]! | (d[p + 1]! << 8);
    const k3 = Math.imul(k2 | (d[p + 2]! << 16), GOLDEN) >>> 16;
    const k4 = Math.imul(read32(d, p), GOLDEN) >>> this.shift4;
    const c2 = this.h2[k2]!, c3 = this.h3[k3]!;
    let cur = this.h4[k4]!;
    this.h2[k2] = p;
    this.h3[k3] = p;
    this.h4[k4] = p;
    let n = 0, maxLen = 1;
    if (record && out) {
      if (c2 >= 0 && p - c2 < cyc) {
        const len = 2 + commonLength(d, c2 + 2, p + 2, lenLimit - 2);
        maxLen = len;
        out[n++] = len;
        out[n++] = p - c2 - 1;
      }
      if (c3 >= 0 && c3 !== c2 && p - c3 < cyc && d[c3] === d[p] && d[c3 + 1] === d[p + 1] && d[c3 + 2] === d[p + 2]) {
        const len = 3 + commonLength(d, c3 + 3, p + 3, lenLimit - 3);
        if (len > maxLen) {
          maxLen = len;
          out[n++] = len;
          out[n++] = p - c3 - 1;
        }
      }
    }
    const son = this.son;
    let ptr0 = cp * 2 + 1, ptr1 = cp * 2;
    let len0 = 0, len1 = 0;
    let depth = this.depth;
    for (;;) {
      const delta = p - cur;
      if (cur < 0 || delta >= cyc || depth-- === 0) {
        son[ptr0] = son[ptr1] = -1;
        break;
      }
      const pair = (cp - delta + (delta > cp ? cyc : 0)) << 1;
      let len = len0 < len1 ? len0 : len1;
      if (d[cur + len] === d[p + len]) {
        while (++len < lenLimit && d[cur + len] === d[p + len]);
        if (len > maxLen) {
          maxLen = len;
          if (record && out) {
            out[n++] = len;
            out[n++] = delta - 1;
          }
        }
        if (len >= lenLimit) {
          son[ptr1] = son[pair]!;
          son[ptr0] = son[pair + 1]!;
          break;
        }
      }
      if (d[cur + len]! < d[p + len]!) {
        son[ptr1] = cur;
        ptr1 = pair + 1;
        cur = son[ptr1]!;
        len1 = len;
      } else {
        son[ptr0] = cur;
        ptr0 = pair;
        cur = son[ptr0]!;
        len0 = len;
      }
    }
    return n;
  }
}
