/** Helpers for the model-format tests: shared-data lookup, async fuzzing, layout invariants. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZipmlError, isZipmlError, type ZipmlErrorCode } from '../../../src/core/errors.js';
import { type ByteSource, type ModelLayout, bufferSource } from '../../../src/tensors/layout.js';
import { mutate } from '../../util/mutate.js';
import { Rng } from '../../util/rng.js';

export const DATA = '../shared/data';
export const BENCH_MODULES = '/work/main/bench/node_modules';

/** Bytes of a shared-data file, or undefined after registering a skip that names the missing path. */
export async function sharedFile(t: { skip(msg: string): void }, rel: string, root = DATA): Promise<Uint8Array | undefined> {
  const p = join(root, rel);
  if (!existsSync(p)) {
    t.skip(`missing ${p} (shared data not present)`);
    return undefined;
  }
  return new Uint8Array(await readFile(p));
}

/** What every layout promises: regions sorted, non-overlapping, inside the file. */
export function assertLayoutSane(l: ModelLayout, size: number): void {
  assert.equal(l.fileSize, size);
  let end = 0;
  for (const t of l.tensors) {
    assert.ok(Number.isSafeInteger(t.offset) && Number.isSafeInteger(t.byteLength) && t.byteLength >= 0, `${t.name}: bad range`);
    assert.ok(t.offset >= end, `${t.name} overlaps`);
    assert.ok(t.offset + t.byteLength <= size, `${t.name} is past the end`);
    end = t.offset + t.byteLength;
  }
}

/**
 * Async fuzzing: each mutation of `valid` must be rejected with a ZipmlError or read into a sane
 * layout. Returns how many were rejected.
 */
export async function fuzzLayout(
  valid: Uint8Array,
  count: number,
  seed: number,
  read: (src: ByteSource) => Promise<ModelLayout>,
  /** The file size layouts must report, when the mutated bytes are a sidecar rather than the file. */
  fileSize?: number,
): Promise<{ rejected: number; accepted: number }> {
  const rng = new Rng(seed);
  let rejected = 0, accepted = 0;
  for (let i = 0; i < count; i++) {
    const { data, kind } = mutate(valid, rng);
    let l: ModelLayout;
    try {
      l = await read(bufferSource(data));
    } catch (e) {
      if (e instanceof ZipmlError) {
        rejected++;
        continue;
      }
      assert.fail(`mutation ${i} (${kind}) threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    }
    assertLayoutSane(l, fileSize ?? data.length);
    accepted++;
  }
  return { rejected, accepted };
}

export async function rejectsWith(p: Promise<unknown>, code: ZipmlErrorCode, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isZipmlError(e, code), `expected ${code}, got ${(e as ZipmlError)?.code}: ${(e as Error)?.message}`);
    if (pattern) assert.match((e as Error).message, pattern);
    return true;
  });
}

/** Little-endian bytes of a Float32Array (a view, no copy). */
export function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
