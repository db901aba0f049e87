/** Runs gguf_py_reference.py (gguf-py, llama.cpp's Python package) when a Python with it exists. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = 'test/tensors/quant/gguf_py_reference.py';
let found: string | null | undefined;

/** The first of python3 / /usr/bin/python3 that imports gguf and numpy, or null. */
export function ggufPython(): string | null {
  if (found !== undefined) return found;
  found = null;
  for (const py of ['python3', '/usr/bin/python3']) {
    if (spawnSync(py, ['-c', 'import gguf, numpy'], { stdio: 'ignore' }).status === 0) return (found = py);
  }
  return found;
}

export const GGUF_PY_MISSING = 'no Python with gguf-py and numpy (pip install gguf; Debian bookworm has no python3-gguf)';

function withDir<T>(f: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'zipml-ggufpy-'));
  try {
    return f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const run = (args: string[]): string => execFileSync(ggufPython()!, [SCRIPT, ...args], { maxBuffer: 1 << 28 }).toString();
const f32 = (b: Buffer): Float32Array => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

/** gguf-py's quantization of x. */
export function pyQuantize(type: string, x: Float32Array): Uint8Array {
  return withDir((d) => {
    writeFileSync(join(d, 'x.f32'), x);
    run(['quant', type, join(d, 'x.f32'), join(d, 'q.bin')]);
    return new Uint8Array(readFileSync(join(d, 'q.bin')));
  });
}

/** gguf-py's dequantization of n values. */
export function pyDequantize(type: string, blocks: Uint8Array, n: number): Float32Array {
  return withDir((d) => {
    writeFileSync(join(d, 'q.bin'), blocks);
    run(['dequant', type, join(d, 'q.bin'), String(n), join(d, 'y.f32')]);
    return f32(readFileSync(join(d, 'y.f32')));
  });
}

export interface PyGguf {
  kv: Record<string, string | number | boolean>;
  tokens: string[];
  token_types: number[];
  tensors: { name: string; type: string; ne: number[]; n: number; values: Float32Array }[];
}

/** gguf-py's GGUFReader on a file: header fields and every tensor dequantized. */
export function pyReadGguf(bytes: Uint8Array): PyGguf {
  return withDir((d) => {
    writeFileSync(join(d, 'm.gguf'), bytes);
    const out = JSON.parse(run(['read', join(d, 'm.gguf'), d])) as Omit<PyGguf, 'tensors'> & { tensors: Omit<PyGguf['tensors'][number], 'values'>[] };
    return { ...out, tensors: out.tensors.map((t, i) => ({ ...t, values: f32(readFileSync(join(d, `${i}.f32`))) })) };
  });
}
