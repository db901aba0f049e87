/** Runs one segment build in a worker thread; `stop()` ends all running builds (shutdown). */
import { Worker } from 'node:worker_threads';
import { ZipmlError } from '../core/errors.js';
import type { BuildJob, BuildResult } from './segment-files.js';

const running = new Set<Worker>();

export function runBuild(job: BuildJob): Promise<BuildResult> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./segment-worker.js', import.meta.url), { workerData: job });
    running.add(w);
    let settled = false;
    w.once('message', (m: { ok: boolean; result?: BuildResult; message?: string }) => {
      settled = true;
      if (m.ok) resolve(m.result!);
      else reject(new ZipmlError('E_WORKER', `segment build failed: ${m.message}`));
    });
    w.once('error', (e) => {
      settled = true;
      reject(new ZipmlError('E_WORKER', `segment build worker failed: ${e.message}`, { cause: e }));
    });
    w.once('exit', (code) => {
      running.delete(w);
      if (!settled) reject(new ZipmlError('E_WORKER', `segment build worker exited with code ${code}`));
    });
  });
}

export async function stopBuilds(): Promise<void> {
  await Promise.all([...running].map((w) => w.terminate()));
}
