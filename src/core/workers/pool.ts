/**
 * A pool of workers with one API in Node (worker_threads) and in browsers (module Web Workers).
 *
 * A task names an ES module URL and one of its exported functions; the worker imports the module
 * (once per worker) and calls the function with the arguments. Buffers move by transfer: what the
 * caller lists in `transfer` leaves the caller, and typed arrays / ArrayBuffers in the result come
 * back the same way. SharedArrayBuffers are shared, never copied.
 *
 * Nothing Node-specific is imported at load time (worker_threads arrives through a dynamic import
 * on first use), so this module loads unchanged in a browser without a bundler.
 *
 * The protocol with worker-entry.ts is one message each way per task, and a worker runs one task
 * at a time, so a worker's in-flight task is always known: that is what lets a crash or an abort
 * reject exactly the task it hit.
 */
import { ZipmlError, type ZipmlErrorCode } from '../errors.js';

/** What a worker runs: `(await import(module))[fn](...args)`. */
export interface WorkerTask {
  /**
   * Absolute URL of an ES module (file:, http:, https:, data:, blob:). A relative URL is refused
   * because it would resolve against the worker script rather than the caller; write
   * `new URL('./tasks.js', import.meta.url)`.
   */
  module: string | URL;
  /** Name of a function the module exports; it may be sync or async. */
  fn: string;
}

/**
 * What may be listed in `transfer`. A typed array stands for its whole buffer. A SharedArrayBuffer
 * (or a view on one) is accepted and skipped: it is shared anyway.
 */
export type TransferItem = ArrayBufferLike | ArrayBufferView | MessagePort;

export interface RunOptions {
  /** Buffers that move to the worker; they are detached in the caller once run() returns. */
  transfer?: readonly TransferItem[];
  /** Rejects the task with E_ABORTED; a task already running has its worker terminated. */
  signal?: AbortSignal;
}

export interface WorkerPoolOptions {
  /** Most workers alive at once (default: the number of available cores). */
  size?: number;
}

/** @internal A task as posted to worker-entry. `module` is already an absolute URL. */
export interface TaskMessage {
  id: number;
  module: string;
  fn: string;
  args: unknown[];
}

/** @internal An error as it crosses back from worker-entry (Error objects lose their class). */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** Set only when the task threw a ZipmlError. */
  code?: string;
  offset?: number;
}

/** @internal The one reply to a TaskMessage. */
export type ResultMessage =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedError };

/** @internal What postMessage can actually move (both runtimes accept these two). */
export type Movable = ArrayBuffer | MessagePort;

function isShared(b: ArrayBufferLike): boolean {
  // The global is missing in browsers that are not cross-origin isolated.
  return typeof SharedArrayBuffer !== 'undefined' && b instanceof SharedArrayBuffer;
}

function isPort(x: unknown): x is MessagePort {
  return typeof MessagePort !== 'undefined' && x instanceof MessagePort;
}

/**
 * @internal The transfer list for `items`: views become their buffers, shared memory is dropped,
 * anything else is ignored, and duplicates go (listing a buffer twice is a DataCloneError).
 */
export function transferList(items: Iterable<unknown>): Movable[] {
  const out = new Set<Movable>();
  for (const x of items) {
    if (ArrayBuffer.isView(x)) {
      if (!isShared(x.buffer)) out.add(x.buffer as ArrayBuffer);
    } else if (x instanceof ArrayBuffer || isPort(x)) {
      out.add(x);
    }
  }
  return [...out];
}

/**
 * @internal Where a result's buffers may sit: the value itself, or one level into an array or a
 * plain object. Deeper structures are copied, which keeps the walk cheap and predictable.
 */
export function resultTransferList(value: unknown): Movable[] {
  if (Array.isArray(value)) return transferList(value as unknown[]);
  if (typeof value === 'object' && value !== null) {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto === Object.prototype || proto === null) return transferList(Object.values(value));
  }
  return transferList([value]);
}

// --- the two runtimes behind one small interface ---------------------------------------------

interface Endpoint {
  post(msg: TaskMessage, transfer: Movable[]): void;
  /** Resolves once the worker is gone; never rejects. */
  terminate(): Promise<void>;
  /** Node only: whether this worker keeps the process alive. */
  ref(): void;
  unref(): void;
}

interface EndpointEvents {
  message(msg: ResultMessage): void;
  /** A reply arrived but could not be deserialized; the worker itself is fine. */
  messageError(): void;
  /** The worker is gone or unusable; fired at most once per worker by the pool's bookkeeping. */
  died(reason: string): void;
}

type Spawner = (events: EndpointEvents) => Endpoint;

const WORKER_URL = new URL('./worker-entry.js', import.meta.url);

interface NodeLikeProcess {
  versions?: { node?: string };
  execArgv?: string[];
  getBuiltinModule?: (id: string) => unknown;
}

function nodeProcess(): NodeLikeProcess | undefined {
  const p = (globalThis as { process?: NodeLikeProcess }).process;
  return typeof p?.versions?.node === 'string' ? p : undefined;
}

/**
 * Node workers inherit the parent's execArgv, and a worker refuses to start when that holds
 * `--input-type` (as in `node --input-type=module -e ...`). Drops the eval-only flags; undefined
 * keeps Node's default inheritance when there are none.
 */
function workerExecArgv(argv: readonly string[]): string[] | undefined {
  const withValue = new Set(['--input-type', '-e', '--eval', '-p', '--print']);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (withValue.has(a)) i++;
    else if (!/^--(input-type|eval|print)=/.test(a)) out.push(a);
  }
  return out.length === argv.length ? undefined : out;
}

async function loadSpawner(): Promise<Spawner> {
  const proc = nodeProcess();
  if (proc) {
    const { Worker } = await import('node:worker_threads');
    const execArgv = workerExecArgv(proc.execArgv ?? []);
    return (ev) => {
      const w = new Worker(WORKER_URL, { execArgv });
      w.on('message', ev.message);
      w.on('messageerror', ev.messageError);
      w.on('error', (e: Error) => ev.died(`it threw ${e.name}: ${e.message}`));
      w.on('exit', (code: number) => ev.died(`it exited with code ${code}`));
      return {
        // Node types its MessagePort apart from the DOM's; the objects are the same.
        post: (m, t) => w.postMessage(m, t as unknown as Parameters<typeof w.postMessage>[1]),
        terminate: () => w.terminate().then(
          () => undefined,
          () => undefined,
        ),
        ref: () => w.ref(),
        unref: () => w.unref(),
      };
    };
  }
  if (typeof Worker !== 'function') {
    throw new ZipmlError('E_UNSUPPORTED', 'this runtime has neither worker_threads nor Web Workers');
  }
  return (ev) => {
    const w = new Worker(WORKER_URL, { type: 'module' });
    w.onmessage = (e: MessageEvent<ResultMessage>) => ev.message(e.data);
    w.onmessageerror = () => ev.messageError();
    w.onerror = (e: ErrorEvent) => {
      // A browser worker survives an uncaught error, but its state is unknown: treat it as dead,
      // like Node does, and keep the console free of a duplicate report.
      e.preventDefault();
      ev.died(`it threw: ${e.message || 'the worker script failed to load'}`);
    };
    return {
      post: (m, t) => w.postMessage(m, t),
      terminate: () => {
        w.terminate();
        return Promise.resolve();
      },
      ref: () => undefined,
      unref: () => undefined,
    };
  };
}

function defaultSize(): number {
  const g = globalThis as { navigator?: { hardwareConcurrency?: number } };
  // getBuiltinModule (Node >= 20.16) reads the core count synchronously without a static
  // node: import; older Node 20 has no navigator either and falls back to 4.
  const os = nodeProcess()?.getBuiltinModule?.('node:os') as { availableParallelism?: () => number } | undefined;
  const n = os?.availableParallelism?.() ?? g.navigator?.hardwareConcurrency ?? 4;
  return Math.max(1, Math.floor(n));
}

// --- the pool ----------------------------------------------------------------------------------

interface Job {
  msg: TaskMessage;
  transfer: Movable[];
  what: string;
  resolve(value: unknown): void;
  reject(error: ZipmlError): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  slot: Slot | undefined;
  settled: boolean;
}

interface Slot {
  endpoint: Endpoint;
  job: Job | undefined;
  dead: boolean;
}

function resolveModule(m: string | URL): string {
  const s = typeof m === 'string' ? m : m.href;
  try {
    return new URL(s).href;
  } catch {
    throw new ZipmlError(
      'E_ARG',
      `worker task module must be an absolute URL, got "${s}" (use new URL('./tasks.js', import.meta.url))`,
    );
  }
}

function describe(module: string, fn: string): string {
  return `worker task ${fn}() from ${module.slice(module.lastIndexOf('/') + 1) || module}`;
}

function fromWorker(e: SerializedError, what: string): ZipmlError {
  const remote = new Error(e.message);
  remote.name = e.name;
  if (e.stack !== undefined) remote.stack = e.stack;
  if (e.code === undefined) {
    return new ZipmlError('E_WORKER', `${what} threw ${e.name}: ${e.message}`, { cause: remote });
  }
  // ZipmlError appends " (at byte N)" itself; strip it so the message comes out unchanged.
  const suffix = e.offset !== undefined ? ` (at byte ${e.offset})` : '';
  const message = suffix && e.message.endsWith(suffix) ? e.message.slice(0, -suffix.length) : e.message;
  return new ZipmlError(e.code as ZipmlErrorCode, message, { offset: e.offset, cause: remote });
}

function abortError(what: string, signal: AbortSignal): ZipmlError {
  return new ZipmlError('E_ABORTED', `${what} was aborted`, { cause: signal.reason });
}

export class WorkerPool {
  private readonly maxWorkers: number;
  private readonly slots: Slot[] = [];
  /** FIFO; aborted jobs stay in place, settled, and are skipped when they reach the head. */
  private readonly queue: Job[] = [];
  private spawner: Spawner | undefined;
  private loading: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private nextId = 1;

  constructor(options: WorkerPoolOptions = {}) {
    const size = options.size ?? defaultSize();
    if (!Number.isInteger(size) || size < 1) {
      throw new ZipmlError('E_ARG', `WorkerPool size must be an integer >= 1, got ${String(size)}`);
    }
    this.maxWorkers = size;
  }

  /** Most workers alive at once. Workers start on demand, so fewer may exist. */
  get size(): number {
    return this.maxWorkers;
  }

  /**
   * Runs `task.fn(...args)` in a worker and resolves with its (awaited) result. Rejects with a
   * ZipmlError: the task's own code when it threw a ZipmlError, E_WORKER for other throws, a dead
   * worker or a closed pool, E_ABORTED on abort, E_ARG for a bad task or uncloneable arguments.
   */
  run<T>(task: WorkerTask, args: readonly unknown[], opts: RunOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closing) return reject(new ZipmlError('E_WORKER', 'the worker pool is closed'));
      let module: string;
      try {
        module = resolveModule(task.module);
      } catch (e) {
        return reject(e);
      }
      if (typeof task.fn !== 'string' || task.fn === '') {
        return reject(new ZipmlError('E_ARG', `worker task fn must be a non-empty string, got ${String(task.fn)}`));
      }
      if (!Array.isArray(args)) return reject(new ZipmlError('E_ARG', 'worker task args must be an array'));
      const what = describe(module, task.fn);
      const { signal } = opts;
      if (signal?.aborted) return reject(abortError(what, signal));

      const job: Job = {
        msg: { id: this.nextId++, module, fn: task.fn, args: [...args] },
        transfer: transferList(opts.transfer ?? []),
        what,
        resolve: resolve as (value: unknown) => void,
        reject,
        signal,
        onAbort: undefined,
        slot: undefined,
        settled: false,
      };
      this.queue.push(job);
      this.pump();
      if (!job.settled && !job.slot && job.transfer.length > 0) this.takeOwnership(job);
      if (signal && !job.settled) {
        job.onAbort = () => this.abort(job);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
    });
  }

  /**
   * Terminates every worker. Queued and running tasks reject with E_WORKER, and so does any later
   * run(). Safe to call more than once.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const gone = () => new ZipmlError('E_WORKER', 'the worker pool was closed before the task finished');
    for (const job of this.queue.splice(0)) this.settle(job, gone());
    const ended: Promise<void>[] = [];
    for (const slot of this.slots.splice(0)) {
      slot.dead = true;
      if (slot.job) this.settle(slot.job, gone());
      ended.push(slot.endpoint.terminate());
    }
    this.closing = Promise.all(ended).then(() => undefined);
    return this.closing;
  }

  /**
   * A task that has to wait (no free worker, or worker_threads still loading) would otherwise
   * leave its transfer list attached in the caller until dispatch. Moving it into a clone now
   * makes "detached once run() returns" hold regardless of load, and surfaces clone errors early.
   */
  private takeOwnership(job: Job): void {
    try {
      const moved = structuredClone({ args: job.msg.args, transfer: job.transfer }, { transfer: job.transfer });
      job.msg.args = moved.args;
      job.transfer = moved.transfer;
    } catch (e) {
      this.settle(job, new ZipmlError('E_ARG', `${job.what}: arguments cannot be transferred: ${String(e)}`, { cause: e }));
    }
  }

  private pump(): void {
    if (this.closing) return;
    if (!this.spawner) {
      this.loading ??= loadSpawner().then(
        (s) => {
          this.spawner = s;
          this.pump();
        },
        (e: unknown) => {
          this.loading = undefined;
          const err = e instanceof ZipmlError ? e : new ZipmlError('E_WORKER', `cannot start workers: ${String(e)}`, { cause: e });
          for (const job of this.queue.splice(0)) this.settle(job, err);
        },
      );
      return;
    }
    for (;;) {
      while (this.queue.length > 0 && this.queue[0]!.settled) this.queue.shift();
      const job = this.queue[0];
      if (!job) return;
      let slot = this.slots.find((s) => !s.job);
      if (!slot) {
        if (this.slots.length >= this.maxWorkers) return;
        try {
          slot = this.spawn(this.spawner);
        } catch (e) {
          this.queue.shift();
          this.settle(job, new ZipmlError('E_WORKER', `cannot start a worker: ${String(e)}`, { cause: e }));
          continue;
        }
      }
      this.queue.shift();
      this.dispatch(slot, job);
    }
  }

  private spawn(spawner: Spawner): Slot {
    // The endpoint's callbacks need the slot and the slot needs the endpoint.
    const slot = { job: undefined, dead: false } as Slot;
    slot.endpoint = spawner({
      message: (msg) => this.onMessage(slot, msg),
      messageError: () => this.onMessageError(slot),
      died: (reason) => this.onDied(slot, reason),
    });
    this.slots.push(slot);
    return slot;
  }

  private dispatch(slot: Slot, job: Job): void {
    try {
      slot.endpoint.post(job.msg, job.transfer);
    } catch (e) {
      this.settle(job, new ZipmlError('E_ARG', `${job.what}: arguments cannot be sent to a worker: ${String(e)}`, { cause: e }));
      return;
    }
    slot.job = job;
    job.slot = slot;
    slot.endpoint.ref();
  }

  /** Frees the slot's worker for the next task and returns the task it ran. */
  private release(slot: Slot): Job | undefined {
    const job = slot.job;
    slot.job = undefined;
    if (job) job.slot = undefined;
    // An idle worker must not keep a Node process alive; ref() again on the next dispatch.
    slot.endpoint.unref();
    return job;
  }

  private onMessage(slot: Slot, msg: ResultMessage): void {
    if (slot.dead || slot.job?.msg.id !== msg.id) return;
    const job = this.release(slot)!;
    if (msg.ok) this.settle(job, undefined, msg.value);
    else this.settle(job, fromWorker(msg.error, job.what));
    this.pump();
  }

  private onMessageError(slot: Slot): void {
    const job = slot.dead ? undefined : this.release(slot);
    if (!job) return;
    this.settle(job, new ZipmlError('E_WORKER', `${job.what}: its result could not be deserialized`));
    this.pump();
  }

  private onDied(slot: Slot, reason: string): void {
    if (slot.dead) return;
    const job = slot.job;
    this.retire(slot);
    if (job) this.settle(job, new ZipmlError('E_WORKER', `the worker running ${job.what} died: ${reason}`));
    // Replacement is lazy: pump() starts a new worker only if tasks are waiting.
    this.pump();
  }

  private abort(job: Job): void {
    if (job.settled) return;
    // The task cannot see the signal from another thread, and CPU-bound work would run on for
    // nothing, so a running task costs its worker; a queued one is just skipped.
    if (job.slot) this.retire(job.slot);
    this.settle(job, abortError(job.what, job.signal!));
    this.pump();
  }

  private retire(slot: Slot): void {
    slot.dead = true;
    if (slot.job) slot.job.slot = undefined;
    slot.job = undefined;
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    void slot.endpoint.terminate();
  }

  /** Ends a job exactly once: with `error` if given, else with `value`. */
  private settle(job: Job, error: ZipmlError | undefined, value?: unknown): void {
    if (job.settled) return;
    job.settled = true;
    if (job.onAbort) job.signal!.removeEventListener('abort', job.onAbort);
    if (error) job.reject(error);
    else job.resolve(value);
  }
}

let shared: WorkerPool | undefined;

/** A process-wide pool, created on first use with the default size. */
export function defaultPool(): WorkerPool {
  shared ??= new WorkerPool();
  return shared;
}

/** Closes the default pool; the next defaultPool() call creates a fresh one. */
export function closeDefaultPool(): Promise<void> {
  const p = shared;
  shared = undefined;
  return p ? p.close() : Promise.resolve();
}
