/**
 * Choosing lc/lp/pb per input. The parse is done once with LZMA's defaults while its operations
 * are logged; the log is then re-coded (no match finding, only the model and the range coder)
 * under a list of settings and the smallest wins, refined by stepping each parameter by one.
 * Settings with lp/pb = 2 give each byte lane of 4-byte values (fp32, int32 strides) its own
 * literal coders and match flags; lc = 0 suits data whose previous byte says little (weights).
 */
import { throwIfAborted } from '../errors.js';
import { replaySize, type OpLog } from './coder.js';
import { validProps, type LzProps } from './model.js';

const CANDIDATES: ReadonlyArray<readonly [number, number, number]> = [
  [3, 0, 2], [0, 0, 0], [0, 0, 2], [1, 0, 2], [2, 0, 2], [4, 0, 2], [8, 0, 0],
  [0, 1, 1], [1, 1, 1], [0, 2, 2], [1, 2, 2], [2, 2, 2], [3, 2, 2], [0, 2, 0], [0, 3, 3],
];

const key = (p: LzProps): string => `${p.lc},${p.lp},${p.pb}`;

export function chooseProps(data: Uint8Array, log: OpLog, sampleBytes: number, signal?: AbortSignal): LzProps {
  const seen = new Map<string, number>();
  const cost = (p: LzProps): number => {
    const k = key(p);
    let c = seen.get(k);
    if (c === undefined) {
      throwIfAborted(signal, 'lzEncode');
      c = replaySize(data, log, p, sampleBytes);
      seen.set(k, c);
    }
    return c;
  };
  let best: LzProps = { lc: 3, lp: 0, pb: 2 };
  let bestCost = cost(best);
  for (const [lc, lp, pb] of CANDIDATES) {
    const p = { lc, lp, pb };
    const c = cost(p);
    if (c < bestCost) {
      best = p;
      bestCost = c;
    }
  }
  for (let round = 0; round < 4; round++) {
    let improved = false;
    for (const [dl, dp, db] of [[-1, 0, 0], [1, 0, 0], [0, -1, 0], [0, 1, 0], [0, 0, -1], [0, 0, 1]] as const) {
      const p = { lc: best.lc + dl, lp: best.lp + dp, pb: best.pb + db };
      if (!validProps(p)) continue;
      const c = cost(p);
      if (c < bestCost) {
        best = p;
        bestCost = c;
        improved = true;
      }
    }
    if (!improved) break;
  }
  return best;
}
