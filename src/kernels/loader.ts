/**
 * Loads the WebAssembly kernels compiled from src/kernels/assembly and decides which path runs:
 * 'wasm-simd' where the runtime validates a SIMD module, 'reference' (plain TypeScript) otherwise
 * or when forced (ZIPML_KERNELS=reference, or setKernelPath('reference')).
 *
 * Binaries arrive as base64 strings in generated modules, so nothing here touches the file system.
 * Compilation is synchronous (modules are small); browsers that refuse synchronous compilation on
 * the main thread can call `initKernels()` first, which compiles asynchronously.
 */
import { ZipmlError } from '../core/errors.js';

export type KernelPath = 'wasm-simd' | 'reference';

// (module (func (result v128) v128.const i32x4 0 0 0 0)) — validates only where SIMD exists.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

let simd: boolean | undefined;
export function simdSupported(): boolean {
  if (simd === undefined) {
    simd = typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  }
  return simd;
}

// Read once: kernelPath() runs on every kernel lookup (per query and per list in the indexes),
// and reading process.env costs a property walk each time. The variable is set at start-up.
let envReference: boolean | undefined;
function envForcesReference(): boolean {
  if (envReference === undefined) {
    const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
    envReference = g.process?.env?.ZIPML_KERNELS === 'reference';
  }
  return envReference;
}

let forced: KernelPath | undefined;
/** Force a path (tests and benchmarks compare both). `undefined` restores auto-detection. */
export function setKernelPath(path: KernelPath | undefined): void {
  if (path === 'wasm-simd' && !simdSupported()) {
    throw new ZipmlError('E_UNSUPPORTED', 'this runtime has no WebAssembly SIMD; only the reference path can run');
  }
  forced = path;
}

/** Which path the kernels take now. */
export function kernelPath(): KernelPath {
  if (forced) return forced;
  return !envForcesReference() && simdSupported() ? 'wasm-simd' : 'reference';
}

function decodeBase64(b64: string): Uint8Array {
  const g = globalThis as { Buffer?: { from(s: string, enc: string): Uint8Array } };
  if (g.Buffer) {
    const b = g.Buffer.from(b64, 'base64');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * One instantiated kernel module with its linear memory. Kernels work on raw pointers; callers
 * reserve a scratch region above the module's static data, copy inputs in, call, copy outputs out.
 * Not reentrant, which is fine: a JS thread runs one call at a time, and each worker has its own.
 */
export class WasmKernel<E> {
  readonly exports: E;
  readonly memory: WebAssembly.Memory;
  /** First byte above the module's static data and stack, 64-byte aligned. */
  readonly heapBase: number;
  private u8view: Uint8Array;

  constructor(instance: WebAssembly.Instance) {
    const ex = instance.exports as unknown as E & { memory: WebAssembly.Memory; heapBase(): number };
    this.exports = ex;
    this.memory = ex.memory;
    this.heapBase = (ex.heapBase() + 63) & ~63;
    this.u8view = new Uint8Array(this.memory.buffer);
  }

  /** Makes sure linear memory spans heapBase + bytes, and returns heapBase. */
  reserve(bytes: number): number {
    const need = this.heapBase + bytes;
    const have = this.memory.buffer.byteLength;
    if (need > have) {
      const pages = Math.ceil((need - have) / 65536);
      if (need > 4 * 1024 * 1024 * 1024 - 65536) {
        throw new ZipmlError('E_LIMIT', `kernel scratch of ${bytes} bytes exceeds the 4 GiB WebAssembly memory`);
      }
      this.memory.grow(pages);
    }
    return this.heapBase;
  }

  /** A byte view of all of linear memory (refreshed after growth). */
  get u8(): Uint8Array {
    if (this.u8view.buffer !== this.memory.buffer) this.u8view = new Uint8Array(this.memory.buffer);
    return this.u8view;
  }
}

const modules = new Map<string, WebAssembly.Module>();
const instances = new Map<string, WasmKernel<unknown>>();

function newInstance(name: string, mod: WebAssembly.Module): WebAssembly.Instance {
  return new WebAssembly.Instance(mod, {
    env: {
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new ZipmlError('E_CORRUPT', `kernel ${name} aborted at ${line}:${col}`);
      },
    },
  });
}

function instantiate<E>(name: string, mod: WebAssembly.Module): WasmKernel<E> {
  const k = new WasmKernel<E>(newInstance(name, mod));
  instances.set(name, k as WasmKernel<unknown>);
  return k;
}

/**
 * The instantiated kernel `name`, or null when the reference path is active. Compiles on first
 * use, synchronously.
 */
export function wasmKernel<E>(name: string, base64: string): WasmKernel<E> | null {
  if (kernelPath() !== 'wasm-simd') return null;
  const inst = instances.get(name);
  if (inst) return inst as WasmKernel<E>;
  let mod = modules.get(name);
  if (!mod) {
    mod = new WebAssembly.Module(decodeBase64(base64) as BufferSource);
    modules.set(name, mod);
  }
  return instantiate<E>(name, mod);
}

/**
 * A fresh instance of kernel `name` with its own linear memory, not shared with other callers:
 * for data that stays resident in kernel memory across calls (an index's centroids or vectors).
 * Null when the reference path is active.
 */
export function privateKernel<E>(name: string, base64: string): WasmKernel<E> | null {
  if (kernelPath() !== 'wasm-simd') return null;
  let mod = modules.get(name);
  if (!mod) {
    mod = new WebAssembly.Module(decodeBase64(base64) as BufferSource);
    modules.set(name, mod);
  }
  return new WasmKernel<E>(newInstance(name, mod));
}

/** Compiles kernel modules asynchronously (for browser main threads). Safe to call repeatedly. */
export async function precompileKernel(name: string, base64: string): Promise<void> {
  if (!simdSupported() || modules.has(name)) return;
  modules.set(name, await WebAssembly.compile(decodeBase64(base64) as BufferSource));
}
