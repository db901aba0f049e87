/**
 * TS side of the compressed-domain kernels in src/kernels/assembly/vcodes.ts: a driver that
 * copies parameters and windows of code rows into kernel memory, and the plain-TS reference of
 * each kernel (the path taken without WebAssembly SIMD, and what the kernel tests compare with).
 *
 * Float kernels sum in a different order than their references; tests hold them to a relative
 * tolerance of 1e-5. The Hamming kernel is exact.
 */
import { wasmKernel, type WasmKernel } from '../../kernels/loader.js';
import * as vcodesWasm from '../../kernels/generated/vcodes.js';

interface VcodesExports {
  sq8L2(a: number, s: number, codes: number, n: number, cs: number, dPad: number, out: number): void;
  sq8Dot(w: number, codes: number, n: number, cs: number, dPad: number, out: number): void;
  sq4L2(a: number, s: number, codes: number, n: number, cs: number, bPad: number, out: number): void;
  sq4Dot(w: number, codes: number, n: number, cs: number, bPad: number, out: number): void;
  lut8(t: number, codes: number, n: number, cs: number, m: number, out: number): void;
  hamming(q: number, codes: number, n: number, cs: number, m: number, out: number): void;
  rabitqEx(q: number, codes: number, n: number, cs: number, d: number, exBits: number, exOff: number, cb: number, out: number): void;
}

// Below this many code bytes the copies into kernel memory cost more than the kernel saves.
const WASM_MIN_BYTES = 2048;
// Rows are copied through a window of about this many bytes, so kernel memory stays bounded.
const WINDOW_BYTES = 1 << 20;
// Kernels may read this far past the last row of a window.
const SLACK = 16;

function kernelFor(bytes: number): WasmKernel<VcodesExports> | null {
  return bytes >= WASM_MIN_BYTES ? wasmKernel<VcodesExports>('vcodes', vcodesWasm.base64) : null;
}

type Call = (e: VcodesExports, params: number[], codes: number, rows: number, out: number) => void;

/**
 * Runs `call` over all n rows: parameters first (16-byte aligned), then each window of rows and
 * its output slots. Returns false when the reference path must run instead.
 */
function runWindowed(params: ArrayBufferView[], codes: Uint8Array, n: number, cs: number, out: Float32Array | Uint32Array, call: Call): boolean {
  const k = kernelFor(n * cs);
  if (!k) return false;
  let pbytes = 0;
  for (const p of params) pbytes += (p.byteLength + 15) & ~15;
  const rowsPer = Math.max(1, Math.min(n, Math.floor(WINDOW_BYTES / Math.max(1, cs))));
  const codesBytes = ((rowsPer * cs + SLACK + 15) & ~15);
  const base = k.reserve(pbytes + codesBytes + rowsPer * 4);
  const ptrs: number[] = [];
  let p = base;
  for (const a of params) {
    k.u8.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), p);
    ptrs.push(p);
    p += (a.byteLength + 15) & ~15;
  }
  const codesPtr = p;
  const outPtr = p + codesBytes;
  for (let r = 0; r < n; r += rowsPer) {
    const rows = Math.min(rowsPer, n - r);
    const u8 = k.u8;
    u8.set(codes.subarray(r * cs, (r + rows) * cs), codesPtr);
    u8.fill(0, codesPtr + rows * cs, codesPtr + rows * cs + SLACK);
    call(k.exports, ptrs, codesPtr, rows, outPtr);
    const res = out instanceof Float32Array ? new Float32Array(k.memory.buffer, outPtr, rows) : new Uint32Array(k.memory.buffer, outPtr, rows);
    out.set(res, r);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Byte codes (SQ8): one value per byte. Parameters have dPad = roundUp(d, 16) entries, zero past d.
// ---------------------------------------------------------------------------------------------

export function sq8L2Reference(a: Float32Array, s: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, out: Float32Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * cs;
    let acc = 0;
    for (let j = 0; j < d; j++) {
      const t = a[j]! - s[j]! * codes[o + j]!;
      acc += t * t;
    }
    out[i] = acc;
  }
}

export function sq8DotReference(w: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, out: Float32Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * cs;
    let acc = 0;
    for (let j = 0; j < d; j++) acc += w[j]! * codes[o + j]!;
    out[i] = acc;
  }
}

/** Σ_j (a_j − s_j·c_ij)² for each row; a and s hold at least roundUp(d, 16) values, zero past d. */
export function sq8L2(a: Float32Array, s: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, out: Float32Array): void {
  const dPad = (d + 15) & ~15;
  const ok = runWindowed([a.subarray(0, dPad), s.subarray(0, dPad)], codes, n, cs, out, (e, p, c, rows, o) => e.sq8L2(p[0]!, p[1]!, c, rows, cs, dPad, o));
  if (!ok) sq8L2Reference(a, s, codes, n, cs, d, out);
}

/** Σ_j w_j·c_ij for each row; w holds at least roundUp(d, 16) values, zero past d. */
export function sq8Dot(w: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, out: Float32Array): void {
  const dPad = (d + 15) & ~15;
  const ok = runWindowed([w.subarray(0, dPad)], codes, n, cs, out, (e, p, c, rows, o) => e.sq8Dot(p[0]!, c, rows, cs, dPad, o));
  if (!ok) sq8DotReference(w, codes, n, cs, d, out);
}

// ---------------------------------------------------------------------------------------------
// Nibble codes (SQ4): value 2t in the low nibble of byte t. The kernels want parameters permuted
// per 32-value block (low nibbles first); sq4Permute builds that layout from per-dimension ones.
// ---------------------------------------------------------------------------------------------

/** Per-dimension parameters -> the kernels' per-block layout, zero-padded to roundUp(d, 32). */
export function sq4Permute(p: Float32Array, d: number): Float32Array {
  const dPad = (d + 31) & ~31;
  const out = new Float32Array(dPad);
  for (let j = 0; j < d; j++) {
    const block = j >> 5;
    const t = (j & 31) >> 1;
    out[block * 32 + (j & 1) * 16 + t] = p[j]!;
  }
  return out;
}

function nibble(codes: Uint8Array, o: number, j: number): number {
  return (codes[o + (j >> 1)]! >> ((j & 1) << 2)) & 15;
}

/** Reference on per-dimension (unpermuted) parameters. */
export function sq4L2Reference(a: Float32Array, s: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, out: Float32Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * cs;
    let acc = 0;
    for (let j = 0; j < d; j++) {
      const t = a[j]! - s[j]! * nibble(codes, o, j);
      acc += t * t;
    }
    out[i] = acc;
  }
}

export function sq4DotReference(w: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, out: Float32Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * cs;
    let acc = 0;
    for (let j = 0; j < d; j++) acc += w[j]! * nibble(codes, o, j);
    out[i] = acc;
  }
}

/** Σ_j (a_j − s_j·v_ij)² over 4-bit values; a and s are per dimension (length ≥ d). */
export function sq4L2(a: Float32Array, s: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, out: Float32Array): void {
  const bPad = ((d + 31) & ~31) >> 1;
  const ok = runWindowed([sq4Permute(a, d), sq4Permute(s, d)], codes, n, cs, out, (e, p, c, rows, o) => e.sq4L2(p[0]!, p[1]!, c, rows, cs, bPad, o));
  if (!ok) sq4L2Reference(a, s, codes, n, cs, d, out);
}

/** Σ_j w_j·v_ij over 4-bit values; w is per dimension. */
export function sq4Dot(w: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, out: Float32Array): void {
  const bPad = ((d + 31) & ~31) >> 1;
  const ok = runWindowed([sq4Permute(w, d)], codes, n, cs, out, (e, p, c, rows, o) => e.sq4Dot(p[0]!, c, rows, cs, bPad, o));
  if (!ok) sq4DotReference(w, codes, n, cs, d, out);
}

// ---------------------------------------------------------------------------------------------
// Sign codes (binary, RaBitQ): table sums and Hamming distances.
// ---------------------------------------------------------------------------------------------

/**
 * The 256-entry table of each code byte j < ceil(d/8): T[j·256 + v] = Σ_{k<8} w(8j+k, bit k of v),
 * where w(i, b) is `one[i]` for b = 1 and `zero[i]` for b = 0 (dimensions ≥ d contribute 0).
 * Built incrementally: T[v] = T[v without its top bit] + the top bit's term, 256 adds per byte.
 */
export function bitTables(one: Float32Array, zero: Float32Array | null, d: number): Float32Array {
  const m = (d + 7) >> 3;
  const t = new Float32Array(m * 256);
  const tmp = new Float64Array(256);
  for (let j = 0; j < m; j++) {
    let base = 0;
    for (let k = 0; k < 8 && 8 * j + k < d; k++) base += zero ? zero[8 * j + k]! : 0;
    tmp[0] = base;
    for (let k = 0; k < 8; k++) {
      const i = 8 * j + k;
      const delta = i < d ? one[i]! - (zero ? zero[i]! : 0) : 0;
      const top = 1 << k;
      for (let v = 0; v < top; v++) tmp[top + v] = tmp[v]! + delta;
    }
    for (let v = 0; v < 256; v++) t[j * 256 + v] = tmp[v]!;
  }
  return t;
}

export function lut8Reference(t: Float32Array, codes: Uint8Array, n: number, cs: number, m: number, out: Float32Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * cs;
    let acc = 0;
    for (let j = 0; j < m; j++) acc += t[j * 256 + codes[o + j]!]!;
    out[i] = acc;
  }
}

/** out[i] = Σ_{j<m} T[j·256 + code_i[j]] (the first m bytes of each row). */
export function lut8(t: Float32Array, codes: Uint8Array, n: number, cs: number, m: number, out: Float32Array): void {
  const ok = runWindowed([t.subarray(0, m * 256)], codes, n, cs, out, (e, p, c, rows, o) => e.lut8(p[0]!, c, rows, cs, m, o));
  if (!ok) lut8Reference(t, codes, n, cs, m, out);
}

const POP8 = new Uint8Array(256);
for (let v = 1; v < 256; v++) POP8[v] = (v & 1) + POP8[v >> 1]!;

export function hammingReference(q: Uint8Array, codes: Uint8Array, n: number, cs: number, m: number, out: Uint32Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * cs;
    let acc = 0;
    for (let j = 0; j < m; j++) acc += POP8[q[j]! ^ codes[o + j]!]!;
    out[i] = acc;
  }
}

/** out[i] = number of differing bits between q and the first m bytes of row i. */
export function hamming(q: Uint8Array, codes: Uint8Array, n: number, cs: number, m: number, out: Uint32Array): void {
  const ok = runWindowed([q.subarray(0, m)], codes, n, cs, out, (e, p, c, rows, o) => e.hamming(p[0]!, c, rows, cs, m, o));
  if (!ok) hammingReference(q, codes, n, cs, m, out);
}

// ---------------------------------------------------------------------------------------------
// Extended RaBitQ codes: sign bits at the row start, B-bit codes (LSB-first) at exOff.
// ---------------------------------------------------------------------------------------------

/** The B-bit value k of a packed LSB-first bit string starting at byte `o`. */
export function readBits(codes: Uint8Array, o: number, k: number, bits: number): number {
  let pos = k * bits;
  let v = 0;
  for (let b = 0; b < bits; b++, pos++) v |= ((codes[o + (pos >> 3)]! >> (pos & 7)) & 1) << b;
  return v;
}

export function rabitqExReference(q: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, exBits: number, exOff: number, cb: number, out: Float32Array): void {
  for (let i = 0; i < n; i++) {
    const o = i * cs;
    let acc = 0;
    for (let k = 0; k < d; k++) {
      const sb = (codes[o + (k >> 3)]! >> (k & 7)) & 1;
      acc += q[k]! * ((sb << exBits) + readBits(codes, o + exOff, k, exBits) + cb);
    }
    out[i] = acc;
  }
}

/** out[i] = Σ_k q_k·((sign_k << B) + ex_k + cb) for each row. */
export function rabitqEx(q: Float32Array, codes: Uint8Array, n: number, cs: number, d: number, exBits: number, exOff: number, cb: number, out: Float32Array): void {
  const ok = runWindowed([q.subarray(0, d)], codes, n, cs, out, (e, p, c, rows, o) => e.rabitqEx(p[0]!, c, rows, cs, d, exBits, exOff, cb, o));
  if (!ok) rabitqExReference(q, codes, n, cs, d, exBits, exOff, cb, out);
}
