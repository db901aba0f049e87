/**
 * Optimal levels: price-based parsing in the manner of LZMA. From the current position a graph of
 * up to OPTS positions ahead is relaxed in order: each reached position offers a literal (or a
 * one-byte rep), rep matches at the four last distances, and every match length the binary tree
 * reports, priced with the adaptive model's current probabilities and the state and rep distances
 * of the cheapest path that reaches it. The cheapest path to the end of the reach is then coded.
 * A match of at least `niceLen` ends the graph early and is taken as is.
 */
import { throwIfAborted } from '../errors.js';
import type { LzCoder } from './coder.js';
import { BinaryTree, commonLength } from './match-finder.js';
import type { LevelParams } from './params.js';
import {
  MATCH_MAX, MATCH_MIN, NUM_REPS, LEN_SYMBOLS, stateAfterLiteral, stateAfterMatch, stateAfterRep, stateAfterShortRep,
} from './model.js';

const OPTS = 1 << 12;
const INF = 0x3fffffff;
const LIT = -1;

export function parseOptimal(coder: LzCoder, params: LevelParams, windowLog: number, signal?: AbortSignal): void {
  const data = coder.data, n = data.length;
  const nice = Math.min(params.niceLen, MATCH_MAX);
  const mf = new BinaryTree(data, windowLog, params.depth, nice);
  const size = OPTS + MATCH_MAX + 2;
  const price = new Int32Array(size);
  const prev = new Int32Array(size);
  const back = new Int32Array(size);
  const stateOf = new Uint8Array(size);
  const repsOf = new Int32Array(size * NUM_REPS);
  const matches = new Int32Array(2 * (MATCH_MAX + 4));
  const opsLen = new Int32Array(size);
  const opsBack = new Int32Array(size);
  const posMask = coder.m.posMask;
  const mlp = coder.matchLenPrices, rlp = coder.repLenPrices;
  const repLens = new Int32Array(NUM_REPS);
  let cached = -1; // number of ints in `matches` already found for position p, or -1
  let p = 0, nextCheck = 1 << 14;

  const set = (i: number, c: number, from: number, b: number): void => {
    price[i] = c;
    prev[i] = from;
    back[i] = b;
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
        if (b === 0 && cur - from === 1) {
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
      let c = curPrice + coder.isMatchPrice(st, ps, 0) + coder.literalPrice(q, st, cr0);
      if (c < price[cur + 1]!) set(cur + 1, c, cur, LIT);
      if (cr0 < q && data[q - cr0 - 1] === data[q]) {
        c = curPrice + coder.shortRepPrice(st, ps);
        if (c < price[cur + 1]!) set(cur + 1, c, cur, 0);
      }
      const av = Math.min(n - q, MATCH_MAX);
      if (av < MATCH_MIN) continue;
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
        }
      }
    }

    // ---- code the cheapest path to lenEnd ----
    let nOps = 0;
    for (let i = lenEnd; i > 0; i = prev[i]!) {
      opsLen[nOps] = i - prev[i]!;
      opsBack[nOps] = back[i]!;
      nOps++;
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
