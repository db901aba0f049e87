/**
 * An index's SQ8 refinement codes resident in a private WebAssembly instance of the vcodes
 * kernels, so that re-ranking a query's candidates is one kernel call over their slots. Without
 * it every candidate's code row is gathered into a JS buffer and then copied into kernel memory:
 * two copies of k·k_factor·d bytes per query, which cost more than the distances themselves.
 *
 * Layout in kernel memory: [codes: capacity rows × cs, + 16 bytes slack][a/w: dPad f32][s: dPad
 * f32][slots: u32 × m][out: f32 × m]. The codes region moves (copied) only when it grows.
 */
import { privateKernel, type WasmKernel } from '../../kernels/loader.js';
import * as vcodesWasm from '../../kernels/generated/vcodes.js';
import { sq8DotReference, sq8L2Reference } from '../codecs/vcodes.js';

interface PickExports {
  sq8L2Pick(a: number, s: number, base: number, rows: number, m: number, cs: number, dPad: number, out: number): void;
  sq8DotPick(w: number, base: number, rows: number, m: number, cs: number, dPad: number, out: number): void;
}

// The kernels read whole 16-byte vectors: up to 15 bytes past a row's last value.
const SLACK = 16;

export class ResidentSQ8 {
  private readonly k: WasmKernel<PickExports>;
  private readonly dPad: number;
  private n = 0;
  private cap = 0;
  private codesBytes = 0;

  /** Null when the WebAssembly path is not available (the caller keeps its JS path). */
  static create(d: number, cs: number, codes: Uint8Array, n: number): ResidentSQ8 | null {
    const k = privateKernel<PickExports>('vcodes', vcodesWasm.base64);
    if (!k) return null;
    const r = new ResidentSQ8(k, d, cs);
    r.append(codes, n);
    return r;
  }

  private constructor(k: WasmKernel<PickExports>, readonly d: number, readonly cs: number) {
    this.k = k;
    this.dPad = (d + 15) & ~15;
  }

  get memoryBytes(): number {
    return this.codesBytes;
  }

  /** Appends n code rows (slots count up from the current number of rows). */
  append(codes: Uint8Array, n: number): void {
    const need = this.n + n;
    if (need > this.cap) {
      const cap = Math.max(need, this.cap * 2, 64);
      const old = this.n > 0 ? this.k.u8.slice(this.k.heapBase, this.k.heapBase + this.n * this.cs) : null;
      this.codesBytes = ((cap * this.cs + SLACK + 15) & ~15);
      const base = this.k.reserve(this.codesBytes);
      if (old) this.k.u8.set(old, base);
      this.cap = cap;
    }
    const u8 = this.k.u8;
    u8.set(codes.subarray(0, n * this.cs), this.k.heapBase + this.n * this.cs);
    this.n = need;
    u8.fill(0, this.k.heapBase + this.n * this.cs, this.k.heapBase + this.n * this.cs + SLACK);
  }

  /**
   * out[j] = Σ (a − s·code)² ('l2', p = a, s given) or Σ w·code ('ip', p = w, s null) of the row
   * in slots[j]. Parameters are zero past d.
   */
  distances(p: Float32Array, s: Float32Array | null, slots: ArrayLike<number>, out: Float32Array): void {
    const m = slots.length, dPad = this.dPad, cs = this.cs, k = this.k;
    const pPtr = k.heapBase + this.codesBytes;
    const sPtr = pPtr + dPad * 4;
    const rowsPtr = sPtr + dPad * 4;
    const outPtr = rowsPtr + m * 4;
    k.reserve(this.codesBytes + dPad * 8 + m * 8);
    const buf = k.memory.buffer;
    new Float32Array(buf, pPtr, dPad).set(p.subarray(0, dPad));
    if (s) new Float32Array(buf, sPtr, dPad).set(s.subarray(0, dPad));
    const rows = new Uint32Array(buf, rowsPtr, m);
    for (let j = 0; j < m; j++) rows[j] = slots[j]!;
    if (s) k.exports.sq8L2Pick(pPtr, sPtr, k.heapBase, rowsPtr, m, cs, dPad, outPtr);
    else k.exports.sq8DotPick(pPtr, k.heapBase, rowsPtr, m, cs, dPad, outPtr);
    out.set(new Float32Array(k.memory.buffer, outPtr, m));
  }

  /** The same values from the plain-TS references (what the tests compare with). */
  distancesReference(p: Float32Array, s: Float32Array | null, slots: ArrayLike<number>, out: Float32Array): void {
    const one = new Float32Array(1), cs = this.cs, u8 = this.k.u8;
    for (let j = 0; j < slots.length; j++) {
      const row = u8.subarray(this.k.heapBase + slots[j]! * cs, this.k.heapBase + (slots[j]! + 1) * cs);
      if (s) sq8L2Reference(p, s, row, 1, cs, this.d, one);
      else sq8DotReference(p, row, 1, cs, this.d, one);
      out[j] = one[0]!;
    }
  }
}
