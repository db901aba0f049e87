/**
 * Optimal levels: price-based parsing in the manner of LZMA. From the current position a graph of
 * up to OPTS positions ahead is relaxed in order: each reached position offers a literal (or a
 * one-byte rep), rep matches at the four last distances, and every match length the binary tree
 * reports, priced with the adaptive model's current probabilities and the state and rep distances
 * of the cheapest path that reaches it. The cheapest path to the end of the reach is then coded.
 * A match of at least `niceLen` ends the graph early and is taken as is.
 *
 * Besides single operations, three-step arrivals are priced explicitly (LZMA does the same): a
 * literal then a rep0 match, and a full-length match or rep match, one differing literal, then
 * rep0 again. They matter on tables and arrays, where a record differs from an earlier one in one
 * byte: keeping only the cheapest arrival per position would otherwise lose the rep distance.
 */
import { throwIfAborted } from '../errors.js';
import type { LzCoder } from './coder.js';
import { commonLength, type MatchSource } from './match-finder.js';
import type { LevelParams } from './params.js';
import {
  MATCH_MAX, MATCH_MIN, NUM_REPS, LEN_SYMBOLS, stateAfterLiteral, stateAfterMatch, stateAfterRep, stateAfterShortRep,
} from './model.js';

const OPTS = 1 << 12;
const INF = 0x3fffffff;
const LIT = -1;

/** Parses and codes all of `coder.data`; `mf` must be a fresh finder over the same data with `params.niceLen`. */
export function parseOptimal(coder: LzCoder, params: LevelParams, mf: MatchSource, signal?: AbortSignal): void {
  const data = coder.data, n = data.length;
  const nice = Math.min(params.niceLen, MATCH_MAX);
  const size = OPTS + 2 * MATCH_MAX + 4;
  const price = new Int32Array(size);
  const prev = new Int32Array(size);
  // Arrival at i: op (back[i], len1[i]) from prev[i], then a literal if litThen[i], then rep0 of tail[i] bytes if > 0.
  const back = new Int32Array(size);
  const len1 = new Int32Array(size);
  const litThen = new Uint8Array(size);
  const tail = new Int32Array(size);
  const stateOf = new Uint8Array(size);
  const repsOf = new Int32Array(size * NUM_REPS);
  const matches = new Int32Array(2 * (MATCH_MAX + 4));
  const opsLen = new Int32Array(size * 3);
  const opsBack = new Int32Array(size * 3);
  const posMask = coder.m.posMask;
  const mlp = coder.matchLenPrices, rlp = coder.repLenPrices;
  const repLens = new Int32Array(NUM_REPS);
  let chainLen = 0;
  /**
   * Price after a match of `len` at q with distance `dist` (state `st1` after it), one literal and a
   * rep0 match of `chainLen` bytes; INF when the bytes after the literal do not continue the match.
   */
  const chainPrice = (matchCost: number, q: number, len: number, dist: number, st1: number): number => {
    const q2 = q + len;
    if (n - q2 <= MATCH_MIN) return INF;
    const l2 = commonLength(data, q2 - dist, q2 + 1, Math.min(n - q2 - 1, nice));
    if (l2 < MATCH_MIN) return INF;
    chainLen = l2;
    const ps1 = q2 & posMask, st2 = stateAfterLiteral(st1), ps2 = (q2 + 1) & posMask;
    return matchCost + coder.isMatchPrice(st1, ps1, 0) + coder.literalPrice(q2, st1, dist) +
      coder.repPrefixPrice(0, st2, ps2) + rlp[ps2 * LEN_SYMBOLS + l2 - MATCH_MIN]!;
  };
  let cached = -1; // number of ints in `matches` already found for position p, or -1
  let p = 0, nextCheck = 1 << 14;

  const set = (i: number, c: number, from: number, b: number): void => {
    price[i] = c;
    prev[i] = from;
    back[i] = b;
    len1[i] = i - from;
    litThen[i] = 0;
    tail[i] = 0;
  };
  const setChain = (i: number, c: number, from: number, b: number, l1: number, lit: number, t: number): void => {
    price[i] = c;
    prev[i] = from;
    back[i] = b;
    len1[i] = l1;
    litThen[i] = lit;
    tail[i] = t;
  };

  while (p < n) {
    if (p >= nextCheck) {
      throwIfAborted(signal, 'lzEncode');
      nextCheck = p + (1 << 14);
    }
    let cnt = cached >= 0 ? cached : mf.getMatches(matches);
    cached = -1;
    const avail = Math.min(n - p, MATCH_MAX);
    const reps = coder.reps;
    let bestRepLen = 0, bestRepIdx = 0;
    for (let i = 0; i < NUM_REPS; i++) {
      const d = reps[i]!;
      const len = d < p && avail >= 2 ? commonLength(data, p - d - 1, p, avail) : 0;
      repLens[i] = len;
      if (len > bestRepLen) {
        bestRepLen = len;
        bestRepIdx = i;
      }
    }
    const mainLen = cnt > 0 ? matches[cnt - 2]! : 0;
    if (bestRepLen >= nice) {
      coder.encodeRep(p, bestRepIdx, bestRepLen);
      mf.skip(bestRepLen - 1);
      p += bestRepLen;
      continue;
    }
    if (mainLen >= nice) {
      coder.encodeMatch(p, matches[cnt - 1]!, mainLen);
      mf.skip(mainLen - 1);
      p += mainLen;
      continue;
    }
    const r0 = reps[0]!;
    const repByteEq = r0 < p && data[p - r0 - 1] === data[p];
    if (mainLen < MATCH_MIN && bestRepLen < MATCH_MIN && !repByteEq) {
      coder.encodeLiteral(p);
      p++;
      continue;
    }

    // ---- relax the graph from p ----
    const st0 = coder.state, ps0 = p & posMask;
    stateOf[0] = st0;
    for (let i = 0; i < NUM_REPS; i++) repsOf[i] = reps[i]!;
    price[0] = 0;
    let lenEnd = Math.max(mainLen, bestRepLen, 1);
    for (let i = 1; i <= lenEnd; i++) price[i] = INF;
    set(1, coder.isMatchPrice(st0, ps0, 0) + coder.literalPrice(p, st0, r0), 0, LIT);
    if (repByteEq) {
      const c = coder.shortRepPrice(st0, ps0);
      if (c < price[1]!) set(1, c, 0, 0);
    }
    for (let i = 0; i < NUM_REPS; i++) {
      const len = repLens[i]!;
      if (len < MATCH_MIN) continue;
      const pre = coder.repPrefixPrice(i, st0, ps0);
      for (let l = MATCH_MIN; l <= len; l++) {
        const c = pre + rlp[ps0 * LEN_SYMBOLS + l - MATCH_MIN]!;
        if (c < price[l]!) set(l, c, 0, i);
      }
    }
    if (mainLen >= MATCH_MIN) {
      const pre = coder.matchPrefixPrice(st0, ps0);
      let l = MATCH_MIN;
      for (let j = 0; j < cnt; j += 2) {
        const len = matches[j]!, dist = matches[j + 1]!;
        for (; l <= len; l++) {
          const c = pre + mlp[ps0 * LEN_SYMBOLS + l - MATCH_MIN]! + coder.distPrice(dist, l);
          if (c < price[l]!) set(l, c, 0, dist + 4);
        }
      }
    }

    let cur = 0;
    for (;;) {
      cur++;
      if (cur >= lenEnd) break;
      // State and rep distances at `cur`, from the cheapest arrival.
      const from = prev[cur]!, b = back[cur]!;
      let st = stateOf[from]!;
      const fo = from * NUM_REPS, co = cur * NUM_REPS;
      if (b === LIT) {
        st = stateAfterLiteral(st);
        repsOf.copyWithin(co, fo, fo + NUM_REPS);
      } else if (b < NUM_REPS) {
        if (b === 0 && len1[cur] === 1) {
          st = stateAfterShortRep(st);
          repsOf.copyWithin(co, fo, fo + NUM_REPS);
        } else {
          st = stateAfterRep(st);
          repsOf[co] = repsOf[fo + b]!;
          for (let i = 1, k = 0; i < NUM_REPS; i++, k++) {
            if (k === b) k++;
            repsOf[co + i] = repsOf[fo + k]!;
          }
        }
      } else {
        st = stateAfterMatch(st);
        repsOf[co] = b - 4;
        repsOf[co + 1] = repsOf[fo]!;
        repsOf[co + 2] = repsOf[fo + 1]!;
        repsOf[co + 3] = repsOf[fo + 2]!;
      }
      if (litThen[cur]) st = stateAfterLiteral(st);
      if (tail[cur] > 0) st = stateAfterRep(st);
      stateOf[cur] = st;

      const q = p + cur;
      cnt = mf.getMatches(matches);
      const newLen = cnt > 0 ? matches[cnt - 2]! : 0;
      if (newLen >= nice || cur >= OPTS) {
        cached = cnt;
        lenEnd = cur;
        break;
      }
      const curPrice = price[cur]!;
      const ps = q & posMask;
      const cr0 = repsOf[co]!;
      // literal or one-byte rep
      const litCost = curPrice + coder.isMatchPrice(st, ps, 0) + coder.literalPrice(q, st, cr0);
      let c = litCost;
      if (c < price[cur + 1]!) set(cur + 1, c, cur, LIT);
      const repByte = cr0 < q && data[q - cr0 - 1] === data[q];
      if (repByte) {
        c = curPrice + coder.shortRepPrice(st, ps);
        if (c < price[cur + 1]!) set(cur + 1, c, cur, 0);
      }
      const av = Math.min(n - q, MATCH_MAX);
      if (av < MATCH_MIN) continue;
      if (!repByte && cr0 < q && n - q > MATCH_MIN) {
        // literal, then rep0
        const l2 = commonLength(data, q - cr0, q + 1, Math.min(n - q - 1, nice));
        if (l2 >= MATCH_MIN) {
          const st2 = stateAfterLiteral(st), ps2 = (q + 1) & posMask;
          c = litCost + coder.repPrefixPrice(0, st2, ps2) + rlp[ps2 * LEN_SYMBOLS + l2 - MATCH_MIN]!;
          const t = cur + 1 + l2;
          while (lenEnd < t) price[++lenEnd] = INF;
          if (c < price[t]!) setChain(t, c, cur, LIT, 1, 0, l2);
        }
      }
      for (let i = 0; i < NUM_REPS; i++) {
        const dd = repsOf[co + i]!;
        if (dd >= q) continue;
        const len = commonLength(data, q - dd - 1, q, av);
        if (len < MATCH_MIN) continue;
        while (lenEnd < cur + len) price[++lenEnd] = INF;
        const pre = curPrice + coder.repPrefixPrice(i, st, ps);
        for (let l = MATCH_MIN; l <= len; l++) {
          c = pre + rlp[ps * LEN_SYMBOLS + l - MATCH_MIN]!;
          if (c < price[cur + l]!) set(cur + l, c, cur, i);
        }
        c = chainPrice(c, q, len, dd, stateAfterRep(st));
        if (c < INF) {
          const t = cur + len + 1 + chainLen;
          while (lenEnd < t) price[++lenEnd] = INF;
          if (c < price[t]!) setChain(t, c, cur, i, len, 1, chainLen);
        }
      }
      if (newLen >= MATCH_MIN) {
        while (lenEnd < cur + newLen) price[++lenEnd] = INF;
        const pre = curPrice + coder.matchPrefixPrice(st, ps);
        let l = MATCH_MIN;
        for (let j = 0; j < cnt; j += 2) {
          const len = matches[j]!, dist = matches[j + 1]!;
          for (; l <= len; l++) {
            c = pre + mlp[ps * LEN_SYMBOLS + l - MATCH_MIN]! + coder.distPrice(dist, l);
            if (c < price[cur + l]!) set(cur + l, c, cur, dist + 4);
          }
          c = chainPrice(c, q, len, dist, stateAfterMatch(st));
          if (c < INF) {
            const t = cur + len + 1 + chainLen;
            while (lenEnd < t) price[++lenEnd] = INF;
            if (c < price[t]!) setChain(t, c, cur, dist + 4, len, 1, chainLen);
          }
        }
      }
    }

    // ---- code the cheapest path to lenEnd ----
    let nOps = 0;
    for (let i = lenEnd; i > 0; i = prev[i]!) {
      if (tail[i]! > 0) {
        opsLen[nOps] = tail[i]!;
        opsBack[nOps++] = 0;
      }
      if (litThen[i]) {
        opsLen[nOps] = 1;
        opsBack[nOps++] = LIT;
      }
      opsLen[nOps] = len1[i]!;
      opsBack[nOps++] = back[i]!;
    }
    for (let k = nOps - 1; k >= 0; k--) {
      const len = opsLen[k]!, b = opsBack[k]!;
      if (b === LIT) coder.encodeLiteral(p);
      else if (b < NUM_REPS) coder.encodeRep(p, b, len);
      else coder.encodeMatch(p, b - 4, len);
      p += len;
    }
  }
}
