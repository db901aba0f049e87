/**
 * Worker thread for segment builds (flushes, merges, training): the heavy work — k-means,
 * encoding, checksums, file writes — runs off the event loop, so requests keep being served.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { buildSegment, type BuildJob } from './segment-files.js';

const job = workerData as BuildJob;
buildSegment(job).then(
  (r) => parentPort!.postMessage({ ok: true, result: r }),
  (e: unknown) => parentPort!.postMessage({ ok: false, message: (e as Error)?.message ?? String(e), code: (e as { code?: string })?.code }),
);
