#!/usr/bin/env node
/**
 * Writes the working stories260K checkpoint. The copy in ../shared/data has its linear weights
 * transposed in place five times (see test/util/stories260k.ts); this undoes that, checks the
 * SHA-256 of both the input and the result, and writes the result atomically.
 *
 *   npm run build && node bench/quant/restore-stories260k.mjs stories260K.bin [--from path] [--force]
 */
import { readFileSync } from 'node:fs';
import { restoreStories260K, SHARED_STORIES260K, STORIES260K_SHA256 } from '../../dist/test/util/stories260k.js';
import { writeFileAtomic } from '../../dist/src/core/atomic-file.js';

const args = process.argv.slice(2);
const force = args.includes('--force');
const fromAt = args.indexOf('--from');
const from = fromAt >= 0 ? args[fromAt + 1] : SHARED_STORIES260K;
const out = args.find((a, i) => !a.startsWith('--') && !(fromAt >= 0 && i === fromAt + 1));
if (!out || !from) {
  console.error('usage: node bench/quant/restore-stories260k.mjs <out.bin> [--from <shared stories260K.bin>] [--force]');
  process.exit(2);
}
try {
  const restored = restoreStories260K(new Uint8Array(readFileSync(from)));
  await writeFileAtomic(out, restored, { overwrite: force });
  console.log(`${from} -> ${out}: ${restored.length} bytes, SHA-256 ${STORIES260K_SHA256} (the trained checkpoint)`);
} catch (e) {
  console.error(`restore-stories260k: ${e.message}`);
  process.exit(1);
}
