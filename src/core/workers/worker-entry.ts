/**
 * The script every pool worker runs, in Node (worker_threads) and in browsers (module Web Worker).
 * It answers each TaskMessage with one ResultMessage; see pool.ts for the protocol.
 */
import { resultTransferList, type Movable, type ResultMessage, type SerializedError, type TaskMessage } from './pool.js';

type Post = (msg: ResultMessage, transfer: Movable[]) => void;
type TaskModule = Record<string, unknown>;

const modules = new Map<string, Promise<TaskModule>>();

function load(url: string): Promise<TaskModule> {
  let mod = modules.get(url);
  if (!mod) {
    mod = import(url) as Promise<TaskModule>;
    modules.set(url, mod);
    // A failed import (network, syntax) may succeed later, so do not cache the failure.
    mod.catch(() => modules.delete(url));
  }
  return mod;
}

function serializeError(e: unknown): SerializedError {
  if (!(e instanceof Error)) return { name: typeof e, message: String(e) };
  const out: SerializedError = { name: e.name, message: e.message };
  if (e.stack !== undefined) out.stack = e.stack;
  // By name, not instanceof: a task module may carry its own copy of the ZipmlError class.
  const { code, offset } = e as { code?: unknown; offset?: unknown };
  if (e.name === 'ZipmlError' && typeof code === 'string') {
    out.code = code;
    if (typeof offset === 'number') out.offset = offset;
  }
  return out;
}

function send(post: Post, msg: ResultMessage, transfer: Movable[]): void {
  try {
    post(msg, transfer);
    return;
  } catch {
    // Some buffers refuse to move (e.g. a runtime's untransferable pools); copying still works.
  }
  try {
    post(msg, []);
  } catch (e) {
    const error = serializeError(e);
    error.message = `the result could not be sent back: ${error.message}`;
    post({ id: msg.id, ok: false, error }, []);
  }
}

async function handle(msg: TaskMessage, post: Post): Promise<void> {
  let reply: ResultMessage;
  let transfer: Movable[] = [];
  try {
    const fn = (await load(msg.module))[msg.fn];
    if (typeof fn !== 'function') {
      const { ZipmlError } = await import('../errors.js');
      throw new ZipmlError('E_ARG', `module ${msg.module} has no exported function "${msg.fn}"`);
    }
    const value: unknown = await (fn as (...a: unknown[]) => unknown)(...msg.args);
    reply = { id: msg.id, ok: true, value };
    transfer = resultTransferList(value);
  } catch (e) {
    reply = { id: msg.id, ok: false, error: serializeError(e) };
  }
  send(post, reply, transfer);
}

const proc = (globalThis as { process?: { versions?: { node?: string } } }).process;
if (typeof proc?.versions?.node === 'string') {
  const { parentPort } = await import('node:worker_threads');
  if (!parentPort) throw new Error('worker-entry.js runs only as a worker');
  const port = parentPort;
  port.on('message', (m: TaskMessage) => void handle(m, (r, t) => port.postMessage(r, t as unknown as Parameters<typeof port.postMessage>[1])));
} else {
  // Set synchronously so no message can arrive before the handler exists.
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<TaskMessage>) => void) | null;
    postMessage(msg: ResultMessage, transfer: Transferable[]): void;
  };
  scope.onmessage = (e) => void handle(e.data, (r, t) => scope.postMessage(r, t));
}
