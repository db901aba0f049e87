/**
 * Fast levels: greedy or lazy parsing over hash chains. At each position the four rep distances
 * are tried first (they cost few bits), then the chain; with `lazy` > 0 a match is deferred while
 * one of the next positions offers a clearly longer one.
 */
import { throwIfAborted } from '../errors.js';
import type { LzCoder } from './coder.js';
import { HashChain, commonLength } from './match-finder.js';
import type { LevelParams } from './params.js';
import { MATCH_MAX, NUM_REPS } from './model.js';

/** Longest rep match at `p`: returns length, with the rep index in the high bits (len + idx * 1024). */
function bestRep(coder: LzCoder, p: number, limit: number): number {
  const d = coder.data;
  let best = 0, idx = 0;
  for (let i = 0; i < NUM_REPS; i++) {
    const dist = coder.reps[i]!;
    if (dist >= p) continue;
    const len = commonLength(d, p - dist - 1, p, limit);
    if (len > best) {
      best = len;
      idx = i;
    }
  }
  return best + idx * 1024;
}

export function parseFast(coder: LzCoder, params: LevelParams, windowLog: number, signal?: AbortSignal): void {
  const data = coder.data, n = data.length;
  const hc = new HashChain(data, windowLog);
  const nice = Math.min(params.niceLen, MATCH_MAX);
  let p = 0, nextCheck = 1 << 16;
  while (p < n) {
    if (p >= nextCheck) {
      throwIfAborted(signal, 'lzEncode');
      nextCheck = p + (1 << 16);
    }
    const limit = Math.min(n - p, MATCH_MAX);
    const rep = bestRep(coder, p, limit);
    const repLen = rep & 1023, repIdx = rep >>> 10;
    if (repLen >= nice) {
      coder.encodeRep(p, repIdx, repLen);
      p += repLen;
      continue;
    }
    let len = hc.find(p, params.depth, nice, limit);
    let dist = hc.matchDist;
    // A short match far away costs more than its literals.
    if (len === 3 && dist >= 1 << 14) len = 0;
    if (repLen >= 2 && repLen + 1 >= len) {
      coder.encodeRep(p, repIdx, repLen);
      p += repLen;
      continue;
    }
    if (len < 3) {
      const r0 = coder.reps[0]!;
      if (r0 < p && data[p - r0 - 1] === data[p] && coder.state >= 7) coder.encodeRep(p, 0, 1);
      else coder.encodeLiteral(p);
      p++;
      continue;
    }
    // Lazy evaluation: emit a literal while a following position has a longer match.
    let deferred = false;
    for (let k = 1; k <= params.lazy && len < nice && p + k < n; k++) {
      const lim2 = Math.min(n - p - k, MATCH_MAX);
      const len2 = hc.find(p + k, params.depth, nice, lim2);
      if (len2 > len + k - 1 + (hc.matchDist > dist * 8 ? 1 : 0)) {
        deferred = true;
        break;
      }
    }
    if (deferred) {
      coder.encodeLiteral(p);
      p++;
      continue;
    }
    coder.encodeMatch(p, dist, len);
    p += len;
    dist = 0;
  }
}
