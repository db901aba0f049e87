// How bench/vectors walks a library's search knobs and times each point, the same way for every
// library (faiss_indexes.py repeats these rules in Python; the job passes it TIMING and STOP).
//
// A sweep is a list of rows; a row is a list of points in increasing cost (nprobe, ef, ...), one
// row per value of the other knob (k_factor). A row stops at the first point with recall@10 >=
// STOP.recall (0.95, the frontier's highest level: later points of the row are slower, so they
// cannot be the best at any level), or once STOP.patience points in a row gained less than
// STOP.plateau over the best recall so far.

/**
 * Timing: a warm-up over the first `warmup` queries, then passes over all queries until at least
 * `minSeconds` in total (at most `maxPasses`); the best pass counts (the machine is shared). A
 * one-query-at-a-time pass that the warm-up predicts to take over `longPass` seconds (exact search
 * of the 200,000-row set) runs over the first queries only, as many as fill about `shortPass`.
 */
export const TIMING = { minSeconds: 0.25, maxPasses: 3, warmup: 50, longPass: 5, shortPass: 2 };
export const STOP = { recall: 0.95, plateau: 0.001, patience: 2 };

export const NPROBES = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];
export const K_FACTORS = [2, 4, 8, 16, 64];
/** hnswlib's ef and usearch's expansion_search (both at least k). */
export const EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512];

/**
 * The sweep of a factory string: nprobe (<= nlist) for IVF indexes, crossed with k_factor for
 * refined ones (Refine(...) / RFlat); a single point for the rest.
 */
export function factorySweep(factory) {
  const nlist = Number(/(?:^|,)IVF(\d+)/.exec(factory)?.[1] ?? 0);
  const refined = /(?:^|,)(RFlat|Refine\()/.test(factory);
  const probes = nlist ? NPROBES.filter((p) => p <= nlist) : [undefined];
  const kfs = refined ? K_FACTORS : [undefined];
  if (!nlist) return [kfs.map((kFactor) => clean({ kFactor }))];
  return kfs.map((kFactor) => probes.map((nprobe) => clean({ nprobe, kFactor })));
}

const clean = (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/**
 * Best wall time (s) of passes of fn(n) over the first n of nq queries after a warm-up
 * fn(nWarm), and the best process CPU time of a pass (less sensitive to other jobs on the
 * machine; it counts every thread of the process, so it means nothing for multi-threaded passes).
 * n is nq unless `shorten` and the warm-up predicts a long pass (TIMING). fn may be async (batch
 * search on the worker pool) and is awaited once per pass.
 */
export async function bestTime(fn, nWarm, nq, shorten = false) {
  const w0 = performance.now();
  await fn(nWarm);
  const perQuery = (performance.now() - w0) / 1000 / nWarm;
  const n = shorten && perQuery * nq > TIMING.longPass ? Math.min(nq, Math.max(nWarm, Math.ceil(TIMING.shortPass / perQuery))) : nq;
  let best = Infinity, bestCpu = Infinity, total = 0, passes = 0;
  while (passes < TIMING.maxPasses && (passes === 0 || total < TIMING.minSeconds)) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn(n);
    const t = (performance.now() - t0) / 1000;
    best = Math.min(best, t);
    bestCpu = Math.min(bestCpu, cpuSince(c0));
    total += t;
    passes++;
  }
  return { seconds: best, cpuSeconds: bestCpu, passes, queries: n };
}

/** Process CPU seconds (all threads) since `c0 = process.cpuUsage()`. */
export function cpuSince(c0) {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
}

/**
 * Walks `rows` with `measure(point)` -> { recall, ... } (awaited), applying the stopping rule;
 * returns every measured point with its row number.
 */
export async function walk(rows, measure) {
  const points = [];
  for (let r = 0; r < rows.length; r++) {
    let bestRecall = -1, stale = 0;
    for (const p of rows[r]) {
      const m = await measure(p);
      points.push({ ...p, row: r, ...m });
      stale = m.recall < bestRecall + STOP.plateau ? stale + 1 : 0;
      bestRecall = Math.max(bestRecall, m.recall);
      if (m.recall >= STOP.recall || stale >= STOP.patience) break;
    }
  }
  return points;
}
