import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { isZipmlError, type ZipmlErrorCode } from '../../src/core/errors.js';
import { closeDefaultPool, defaultPool, WorkerPool, type WorkerTask } from '../../src/core/workers/pool.js';

// Real workers load the compiled fixture by URL, exactly as a user's task module would be.
const TASKS = new URL('./fixtures/pool-tasks.js', import.meta.url).href;
const task = (fn: string): WorkerTask => ({ module: TASKS, fn });

async function rejectsWith(p: Promise<unknown>, code: ZipmlErrorCode, message?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.ok(isZipmlError(e, code), `expected ZipmlError ${code}, got ${String(e)}`);
    if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected a rejection with ${code}`);
}

/** Runs `body` with a fresh pool and always closes it. */
async function withPool(size: number, body: (pool: WorkerPool) => Promise<void>): Promise<void> {
  const pool = new WorkerPool({ size });
  try {
    await body(pool);
  } finally {
    await pool.close();
  }
}

test('runs a task and transfers its input: the caller is left with a detached buffer', () =>
  withPool(2, async (pool) => {
    const a = new Float64Array([1.5, 2.5, 3, 4]);
    const result = await pool.run<number>(task('sum'), [a], { transfer: [a.buffer] });
    assert.equal(result, 11);
    assert.equal(a.buffer.byteLength, 0);
  }));

test('a queued task detaches its transfer list when run() returns, not at dispatch', () =>
  withPool(1, async (pool) => {
    const busy = pool.run(task('sleep'), [100]);
    const a = new Float64Array([1, 2, 3]);
    // A typed array in `transfer` stands for its buffer.
    const pending = pool.run<number>(task('sum'), [a], { transfer: [a] });
    assert.equal(a.byteLength, 0);
    assert.equal(await pending, 6);
    await busy;
  }));

test('typed arrays in the result come back by transfer (top level and one level deep)', () =>
  withPool(1, async (pool) => {
    const doubled = await pool.run<Float64Array>(task('double'), [new Float64Array([1, -2, 3.25])]);
    assert.ok(doubled instanceof Float64Array);
    assert.deepEqual([...doubled], [2, -4, 6.5]);
    // The worker's own reference to the returned array is detached: it was moved, not copied.
    assert.equal(await pool.run<number>(task('lastReturnedByteLength'), []), 0);

    const parts = await pool.run<{ low: Uint8Array; high: Uint8Array; n: number }>(task('split'), [
      new Uint8Array([0x12, 0xab, 0xff]),
    ]);
    assert.deepEqual([...parts.low], [2, 11, 15]);
    assert.deepEqual([...parts.high], [1, 10, 15]);
    assert.equal(parts.n, 3);
  }));

test('SharedArrayBuffer is shared: worker writes are visible to the caller', () =>
  withPool(2, async (pool) => {
    const sab = new SharedArrayBuffer(4 * 8);
    // Listing it in `transfer` is harmless: shared memory is skipped there.
    const n = await pool.run<number>(task('fillShared'), [sab, 7], { transfer: [sab] });
    assert.equal(n, 8);
    assert.equal(sab.byteLength, 32);
    assert.deepEqual([...new Int32Array(sab)], [7, 14, 21, 28, 35, 42, 49, 56]);
  }));

test('errors: ZipmlError keeps code, message and offset; other throws become E_WORKER', () =>
  withPool(1, async (pool) => {
    const z = await rejectsWith(pool.run(task('throwZipml'), []), 'E_CORRUPT');
    assert.equal(z.message, 'block 3 fails its checksum (at byte 12)');
    assert.equal((z as { offset?: number }).offset, 12);
    assert.match(String((z.cause as Error).stack), /throwZipml/, 'the worker stack is kept as the cause');

    await rejectsWith(pool.run(task('throwPlain'), []), 'E_WORKER', /TypeError: boom/);
    await rejectsWith(pool.run(task('noSuchFunction'), []), 'E_ARG', /no exported function "noSuchFunction"/);
    await rejectsWith(pool.run({ module: './fixtures/pool-tasks.js', fn: 'sum' }, []), 'E_ARG', /absolute URL/);
    await rejectsWith(pool.run({ module: new URL('./fixtures/missing.js', TASKS).href, fn: 'f' }, []), 'E_WORKER');
    await rejectsWith(pool.run(task('sum'), [() => 1]), 'E_ARG', /cannot be sent/);
    await rejectsWith(pool.run(task('returnsFunction'), []), 'E_WORKER', /could not be sent back/);
    // None of that cost the worker.
    assert.equal(await pool.run<number>(task('sum'), [new Float64Array([2, 3])]), 5);
  }));

test('a worker that exits or throws uncaught rejects its task with E_WORKER and is replaced', () =>
  withPool(1, async (pool) => {
    await rejectsWith(pool.run(task('exitWorker'), [3]), 'E_WORKER', /exited with code 3/);
    assert.equal(await pool.run<number>(task('sum'), [new Float64Array([1, 1])]), 2);
    await rejectsWith(pool.run(task('uncaught'), []), 'E_WORKER', /thrown from a timer/);
    assert.equal(await pool.run<number>(task('sum'), [new Float64Array([4])]), 4);
    // Tasks queued behind a crash still run, on the replacement.
    const crash = pool.run(task('exitWorker'), [1]);
    const after = pool.run<number>(task('sum'), [new Float64Array([5, 5])]);
    await rejectsWith(crash, 'E_WORKER');
    assert.equal(await after, 10);
  }));

test('tasks run in FIFO order when every worker is busy', () =>
  withPool(1, async (pool) => {
    const sab = new SharedArrayBuffer(12);
    const tickets = await Promise.all([0, 1, 2, 3, 4, 5].map(() => pool.run<number>(task('ticket'), [sab, 5])));
    assert.deepEqual(tickets, [0, 1, 2, 3, 4, 5]);
  }));

test('at most `size` tasks run at once, and they do run in parallel', () =>
  withPool(2, async (pool) => {
    assert.equal(pool.size, 2);
    const sab = new SharedArrayBuffer(12);
    const tickets = await Promise.all(Array.from({ length: 6 }, () => pool.run<number>(task('ticket'), [sab, 20])));
    assert.deepEqual([...tickets].sort(), [0, 1, 2, 3, 4, 5]);
    assert.equal(new Int32Array(sab)[2], 2, 'the most tasks seen running at once');

    // Workers are warm now, so this measures dispatch, not start-up. Sequential would be 600 ms.
    const t0 = performance.now();
    await Promise.all([pool.run(task('sleep'), [300]), pool.run(task('sleep'), [300])]);
    const ms = performance.now() - t0;
    assert.ok(ms < 550, `two 300 ms tasks on two workers took ${ms.toFixed(0)} ms`);
  }));

test('abort: a running task rejects at once and its worker is replaced; a queued one never runs', () =>
  withPool(1, async (pool) => {
    const ac = new AbortController();
    const t0 = performance.now();
    const running = pool.run(task('sleep'), [10_000], { signal: ac.signal });
    const sab = new SharedArrayBuffer(12);
    const qc = new AbortController();
    const queued = pool.run(task('ticket'), [sab, 1], { signal: qc.signal });
    qc.abort();
    await rejectsWith(queued, 'E_ABORTED');
    setTimeout(() => ac.abort(new Error('user gave up')), 50);
    const e = await rejectsWith(running, 'E_ABORTED', /sleep\(\) from pool-tasks\.js was aborted/);
    assert.equal((e.cause as Error).message, 'user gave up');
    assert.ok(performance.now() - t0 < 5000);

    assert.equal(await pool.run<number>(task('ticket'), [sab, 1]), 0, 'the aborted queued task never took a ticket');
    await rejectsWith(pool.run(task('sum'), [new Float64Array(1)], { signal: AbortSignal.abort() }), 'E_ABORTED');
  }));

test('close() rejects running and queued tasks, and later runs, with E_WORKER', async () => {
  const pool = new WorkerPool({ size: 1 });
  const running = pool.run(task('sleep'), [10_000]);
  const queued = pool.run(task('sleep'), [1]);
  await new Promise((r) => setTimeout(r, 50));
  const closed = pool.close();
  await rejectsWith(running, 'E_WORKER', /closed/);
  await rejectsWith(queued, 'E_WORKER', /closed/);
  await closed;
  await pool.close();
  await rejectsWith(pool.run(task('sum'), [new Float64Array(1)]), 'E_WORKER', /closed/);
});

test('constructor checks size; defaultPool() is a lazy singleton', async () => {
  assert.throws(() => new WorkerPool({ size: 0 }), (e: unknown) => isZipmlError(e, 'E_ARG'));
  assert.throws(() => new WorkerPool({ size: 1.5 }), (e: unknown) => isZipmlError(e, 'E_ARG'));
  const p = defaultPool();
  assert.equal(defaultPool(), p);
  assert.ok(p.size >= 1);
  assert.equal(await p.run<number>(task('sum'), [new Float64Array([1, 2])]), 3);
  await closeDefaultPool();
  assert.notEqual(defaultPool(), p);
  await closeDefaultPool();
});

test('an idle pool does not keep the Node process alive (no close() needed)', async () => {
  const pool = new URL('../../src/core/workers/pool.js', import.meta.url).href;
  const script = `
    import { WorkerPool } from ${JSON.stringify(pool)};
    const p = new WorkerPool({ size: 2 });
    const t = { module: ${JSON.stringify(TASKS)}, fn: 'sum' };
    const r = await Promise.all([p.run(t, [new Float64Array([1, 2])]), p.run(t, [new Float64Array([3])])]);
    console.log(r.join(','));`;
  const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve, reject) => {
    const child = execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 }, (err, out) => {
      if (err && err.killed) reject(new Error('the child process was still alive after 20 s'));
      else resolve({ stdout: out, code: child.exitCode });
    });
  });
  assert.equal(code, 0);
  assert.equal(stdout.trim(), '3,3');
});
