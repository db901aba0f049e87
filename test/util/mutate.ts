/**
 * Mutations for fuzz tests: every decoder must answer each with a ZipmlError or the exact right
 * output, never another exception, a hang or a huge allocation.
 */
import assert from 'node:assert/strict';
import { ZipmlError } from '../../src/core/errors.js';
import { Rng } from './rng.js';

export type Mutation = 'flip' | 'byte' | 'truncate' | 'extend' | 'splice' | 'zero-run';

/** One random mutation of `src` (a new array; `src` is untouched). */
export function mutate(src: Uint8Array, rng: Rng): { data: Uint8Array; kind: Mutation } {
  const kinds: Mutation[] = ['flip', 'flip', 'byte', 'truncate', 'extend', 'splice', 'zero-run'];
  const kind = kinds[rng.int(kinds.length)]!;
  const n = src.length;
  switch (kind) {
    case 'flip': {
      const d = src.slice();
      const flips = 1 + rng.int(3);
      for (let i = 0; i < flips && n > 0; i++) d[rng.int(n)]! ^= 1 << rng.int(8);
      return { data: d, kind };
    }
    case 'byte': {
      const d = src.slice();
      if (n > 0) d[rng.int(n)] = rng.u32() & 255;
      return { data: d, kind };
    }
    case 'truncate':
      return { data: src.slice(0, rng.int(n + 1)), kind };
    case 'extend': {
      const d = new Uint8Array(n + 1 + rng.int(64));
      d.set(src);
      for (let i = n; i < d.length; i++) d[i] = rng.u32() & 255;
      return { data: d, kind };
    }
    case 'splice': {
      // Duplicate or drop a run in the middle, shifting everything after it.
      const at = rng.int(n + 1);
      const len = 1 + rng.int(16);
      if (rng.int(2) === 0) {
        const d = new Uint8Array(n + len);
        d.set(src.subarray(0, at));
        d.set(src.subarray(at, Math.min(n, at + len)), at);
        d.set(src.subarray(at), at + Math.min(len, n - at));
        return { data: d.subarray(0, n + Math.min(len, n - at)), kind };
      }
      const d = new Uint8Array(n - Math.min(len, n - at));
      d.set(src.subarray(0, at));
      d.set(src.subarray(at + Math.min(len, n - at)), at);
      return { data: d, kind };
    }
    case 'zero-run': {
      const d = src.slice();
      const at = rng.int(n + 1);
      d.fill(0, at, Math.min(n, at + 1 + rng.int(8)));
      return { data: d, kind };
    }
  }
}

/**
 * Runs `decode` on `count` mutations of `valid`; each must throw ZipmlError or return a result
 * that `isCorrect` accepts. Returns how many were rejected (for reporting).
 */
export function fuzzDecoder<T>(
  valid: Uint8Array,
  count: number,
  seed: number,
  decode: (bytes: Uint8Array) => T,
  isCorrect: (out: T) => boolean,
): { rejected: number; accepted: number } {
  const rng = new Rng(seed);
  let rejected = 0, accepted = 0;
  for (let i = 0; i < count; i++) {
    const { data, kind } = mutate(valid, rng);
    let out: T;
    try {
      out = decode(data);
    } catch (e) {
      if (e instanceof ZipmlError) {
        rejected++;
        continue;
      }
      assert.fail(`mutation ${i} (${kind}) threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    }
    assert.ok(isCorrect(out), `mutation ${i} (${kind}) decoded without error to wrong output`);
    accepted++;
  }
  return { rejected, accepted };
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
