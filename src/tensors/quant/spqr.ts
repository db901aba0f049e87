/**
 * SpQR (Dettmers et al. 2023) as its paper and reference implementation (Vahe1994/SpQR) define it:
 * GPTQ's column loop with small groups (default 16 input columns) whose per-row scale and zero
 * point are themselves quantized (bilevel: default 3-bit codes, one fp16 scale / zero pair per 16
 * rows of a statistic), and unstructured outliers chosen INSIDE the loop: a weight whose
 * Hessian-weighted error ((w − q(w)) / U_jj)² exceeds τ · mean_j(Var_r W[r, j] / U_jj²) is kept
 * exact in a sparse fp16 side matrix (outliers.ts), and feeds back no error. Before a group's
 * statistics are fitted, its likely outliers (by the leave-one-out error reduction against the
 * same threshold) are replaced by the mean of the rest, so they do not stretch the range.
 *
 * The first-level fit is plain min/max (no 0 in the range, real-valued zero point), as the
 * reference's quantizer; second-level: min/max over 16 consecutive rows, fp16 scale and zero.
 *
 * Layout (SpqrMatrix): codes bit-packed per row like packed.ts; for each column group g a "stat
 * row" of `rows` scale codes and one of `rows` zero codes (statBits each, bit-packed, every stat
 * row starting on a byte); per (g, block of statGroup rows) four fp16 values: the scale codes'
 * scale and zero, the zero codes' scale and zero. Weight (r, c), g = floor(c / group),
 * b = floor(r / statGroup): s = ss[g,b]·(sq[g,r] − sz[g,b]), z = zs[g,b]·(zq[g,r] − zz[g,b]),
 * w = s·(q − z).
 */
import { ZipmlError } from '../../core/errors.js';
import { f16BitsToF32, f32ToF16Bits } from '../../core/dtypes.js';
import type { LinearOp } from '../llm/linear.js';
import type { LlamaModel } from '../llm/model.js';
import type { QuantizedModel } from './model.js';
import { type CalibratedOptions, feedBack, lazyBatchUpdate, permutedProblem, quantizeWithHessians } from './gptq.js';
import { OutlierLinear, type SparseOutliers, sparseBits, sparseFromMask } from './outliers.js';
import { codeAt, putCode, rowBytesFor } from './packed.js';

export type SpqrBits = 2 | 3 | 4;
export const SPQR_BITS: readonly SpqrBits[] = [4, 3, 2];

export interface SpqrMatrix {
  rows: number;
  cols: number;
  bits: SpqrBits;
  /** Input columns per group (statistics fitted per row and group). */
  group: number;
  /** Bits of a quantized scale / zero point (2..8). */
  statBits: number;
  /** Rows per second-level group (one fp16 scale / zero pair per statistic). */
  statGroup: number;
  rowBytes: number;
  /** rows × rowBytes. */
  codes: Uint8Array;
  /** groups × statRowBytes: bit-packed scale codes, stat row g = the rows' scales of column group g. */
  scaleCodes: Uint8Array;
  zeroCodes: Uint8Array;
  /** fp16 bits, groups × rowBlocks each. */
  scaleScale: Uint16Array;
  scaleZero: Uint16Array;
  zeroScale: Uint16Array;
  zeroZero: Uint16Array;
}

export const spqrGroups = (m: Pick<SpqrMatrix, 'cols' | 'group'>): number => Math.ceil(m.cols / m.group);
export const spqrRowBlocks = (m: Pick<SpqrMatrix, 'rows' | 'statGroup'>): number => Math.ceil(m.rows / m.statGroup);

/** Storage bits: codes, stat codes and the fp16 second-level statistics. */
export const spqrBits = (m: SpqrMatrix): number =>
  8 * (m.codes.length + m.scaleCodes.length + m.zeroCodes.length) + 16 * (m.scaleScale.length + m.scaleZero.length + m.zeroScale.length + m.zeroZero.length);

/** Checks fields and sizes (for matrices that come from outside). */
export function checkSpqr(m: SpqrMatrix): void {
  const bad = (msg: string): never => {
    throw new ZipmlError('E_ARG', `spqr matrix: ${msg}`);
  };
  if (!SPQR_BITS.includes(m.bits)) bad(`bit width ${m.bits} is not one of ${SPQR_BITS.join(', ')}`);
  if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows < 1 || m.cols < 1 || m.cols > 65536) bad(`shape ${m.rows} x ${m.cols}`);
  if (!Number.isInteger(m.group) || m.group < 2 || m.group > 128) bad(`group ${m.group} is outside 2..128`);
  if (!Number.isInteger(m.statBits) || m.statBits < 2 || m.statBits > 8) bad(`stat bits ${m.statBits} outside 2..8`);
  if (!Number.isInteger(m.statGroup) || m.statGroup < 1) bad(`stat group ${m.statGroup}`);
  if (m.rowBytes !== rowBytesFor(m.cols, m.bits) || m.codes.length !== m.rows * m.rowBytes) bad(`codes hold ${m.codes.length} bytes, expected ${m.rows} x ${rowBytesFor(m.cols, m.bits)}`);
  const nG = spqrGroups(m), nB = spqrRowBlocks(m), sb = rowBytesFor(m.rows, m.statBits);
  if (m.scaleCodes.length !== nG * sb || m.zeroCodes.length !== nG * sb) bad(`stat codes hold ${m.scaleCodes.length} / ${m.zeroCodes.length} bytes, expected ${nG * sb}`);
  for (const a of [m.scaleScale, m.scaleZero, m.zeroScale, m.zeroZero]) {
    if (a.length !== nG * nB) bad(`${a.length} second-level statistics, expected ${nG * nB}`);
    if (a.some((h) => (h & 0x7c00) === 0x7c00)) bad('a second-level statistic is infinite or NaN');
  }
}

const u8 = (a: Uint16Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The layer's fields and sections for the quantized-model file (file.ts). */
export function spqrSections(m: SpqrMatrix): { meta: { bits: number; group: number; statBits: number; statGroup: number }; sections: Record<string, Uint8Array> } {
  return {
    meta: { bits: m.bits, group: m.group, statBits: m.statBits, statGroup: m.statGroup },
    sections: {
      codes: m.codes, scale_codes: m.scaleCodes, zero_codes: m.zeroCodes,
      scale_scale: u8(m.scaleScale), scale_zero: u8(m.scaleZero), zero_scale: u8(m.zeroScale), zero_zero: u8(m.zeroZero),
    },
  };
}

/**
 * Rebuilds an SpQR layer of rows x cols from untrusted fields and a reader returning a section of
 * exactly `length` bytes (or throwing). Every size follows from rows, cols and the checked fields
 * before anything is read. A bit width this reader cannot hold is E_FORMAT; other bad fields E_CORRUPT.
 */
export function spqrFromSections(meta: Record<string, unknown>, read: (name: string, length: number) => Uint8Array, rows: number, cols: number): SpqrMatrix {
  const { bits, group, statBits, statGroup } = meta;
  if (typeof bits !== 'number' || !(SPQR_BITS as readonly number[]).includes(bits)) throw new ZipmlError('E_FORMAT', `spqr layer: a ${String(bits)}-bit layer cannot be held (supported: ${SPQR_BITS.join(', ')})`);
  const int = (v: unknown, lo: number, hi: number, what: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) throw new ZipmlError('E_CORRUPT', `spqr layer: ${what} ${String(v)} is not an integer in ${lo}..${hi}`);
    return v;
  };
  const g = int(group, 2, 128, 'group'), sb = int(statBits, 2, 8, 'stat bits'), sg = int(statGroup, 1, Math.max(1, rows), 'stat group');
  const nG = Math.ceil(cols / g), nB = Math.ceil(rows / sg), statBytes = nG * rowBytesFor(rows, sb);
  const f16 = (name: string): Uint16Array => new Uint16Array(read(name, 2 * nG * nB).slice().buffer);
  const m: SpqrMatrix = {
    rows, cols, bits: bits as SpqrBits, group: g, statBits: sb, statGroup: sg, rowBytes: rowBytesFor(cols, bits),
    codes: read('codes', rows * rowBytesFor(cols, bits)).slice(), scaleCodes: read('scale_codes', statBytes).slice(), zeroCodes: read('zero_codes', statBytes).slice(),
    scaleScale: f16('scale_scale'), scaleZero: f16('scale_zero'), zeroScale: f16('zero_scale'), zeroZero: f16('zero_zero'),
  };
  try {
    checkSpqr(m);
  } catch (e) {
    if (e instanceof ZipmlError) throw new ZipmlError('E_CORRUPT', e.message, { cause: e });
    throw e;
  }
  return m;
}

/** The dequantized per-(group, row) scales and zero points, group-major (g * rows + r). */
export function spqrStats(m: SpqrMatrix): { scale: Float32Array; zero: Float32Array } {
  const nG = spqrGroups(m), nB = spqrRowBlocks(m), sb = rowBytesFor(m.rows, m.statBits);
  const scale = new Float32Array(nG * m.rows), zero = new Float32Array(nG * m.rows);
  const sRows = { bits: m.statBits, rowBytes: sb, codes: m.scaleCodes }, zRows = { bits: m.statBits, rowBytes: sb, codes: m.zeroCodes };
  for (let g = 0; g < nG; g++) {
    for (let r = 0; r < m.rows; r++) {
      const b = g * nB + Math.floor(r / m.statGroup);
      scale[g * m.rows + r] = f16BitsToF32(m.scaleScale[b]!) * (codeAt(sRows, g, r) - f16BitsToF32(m.scaleZero[b]!));
      zero[g * m.rows + r] = f16BitsToF32(m.zeroScale[b]!) * (codeAt(zRows, g, r) - f16BitsToF32(m.zeroZero[b]!));
    }
  }
  return { scale, zero };
}

/** W as the codes represent it (row-major fp32). */
export function dequantizeSpqr(m: SpqrMatrix): Float32Array {
  const { scale, zero } = spqrStats(m);
  const out = new Float32Array(m.rows * m.cols);
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++) {
      const i = Math.floor(c / m.group) * m.rows + r;
      out[r * m.cols + c] = scale[i]! * (codeAt(m, r, c) - zero[i]!);
    }
  }
  return out;
}

/** Plain-TS y = Ŵ x in double, straight from the definition (the reference SpqrLinear is held to). */
export function spqrMatvecReference(m: SpqrMatrix, x: Float32Array, out: Float32Array): void {
  const w = dequantizeSpqr(m);
  for (let r = 0; r < m.rows; r++) {
    let y = 0;
    for (let c = 0; c < m.cols; c++) y += w[r * m.cols + c]! * x[c]!;
    out[r] = y;
  }
}

/**
 * A linear layer on SpQR codes: y_r = Σ_g s_rg (Σ_{c∈g} q_rc x_c − z_rg Σ_{c∈g} x_c). The codes stay
 * packed (read a row at a time through a bit buffer); the per-(row, group) statistics are
 * dequantized once (2 floats per row and group).
 */
export class SpqrLinear implements LinearOp {
  readonly rows: number;
  readonly cols: number;
  private readonly scale: Float32Array;
  private readonly zero: Float32Array;
  private readonly xs: Float64Array;
  constructor(readonly m: SpqrMatrix) {
    checkSpqr(m);
    this.rows = m.rows;
    this.cols = m.cols;
    ({ scale: this.scale, zero: this.zero } = spqrStats(m));
    this.xs = new Float64Array(spqrGroups(m));
  }

  matvec(x: Float32Array, out: Float32Array): void {
    const { rows, cols, group, bits, rowBytes, codes } = this.m, nG = this.xs.length, mask = (1 << bits) - 1;
    for (let g = 0; g < nG; g++) {
      let s = 0;
      for (let c = g * group; c < Math.min(cols, (g + 1) * group); c++) s += x[c]!;
      this.xs[g] = s;
    }
    for (let r = 0; r < rows; r++) {
      let y = 0, acc = 0, buf = 0, have = 0, at = r * rowBytes, g = 0, end = Math.min(cols, group);
      for (let c = 0; c < cols; c++) {
        if (have < bits) {
          buf |= codes[at++]! << have;
          have += 8;
        }
        acc += (buf & mask) * x[c]!;
        buf >>>= bits;
        have -= bits;
        if (c + 1 === end) {
          const i = g * rows + r;
          y += this.scale[i]! * (acc - this.zero[i]! * this.xs[g]!);
          acc = 0;
          g++;
          end = Math.min(cols, end + group);
        }
      }
      out[r] = y;
    }
  }

  get storageBits(): number {
    return spqrBits(this.m);
  }
}

export interface SpqrOptions {
  /** Bits of the weight codes; default 3. */
  bits: SpqrBits;
  /** Input columns per group; default 16. */
  group?: number;
  /** Bits of the quantized scales and zero points; default 3. */
  statBits?: number;
  /** Rows per second-level statistics group; default 16. */
  statGroup?: number;
  /** Damping as a fraction of mean diag H; default 0.01. */
  damp?: number;
  /** Columns per lazy batch (a multiple of the group); default 128. */
  blockSize?: number;
  /** Columns by decreasing diag H (groups stay contiguous, fitted when first reached); default true. */
  actOrder?: boolean;
  /**
   * τ, the outlier threshold relative to mean_j(Var_r W[r,j] / U_jj²). When absent, τ is chosen per
   * matrix by bisection so that the outliers are at most `fraction` of the weights.
   */
  threshold?: number;
  /** Outlier budget per matrix when `threshold` is absent; default 0.01. */
  fraction?: number;
}

export interface SpqrResult {
  matrix: SpqrMatrix;
  sparse: SparseOutliers;
  /** The τ used. */
  threshold: number;
}

/** Min/max fit of n values as the reference quantizer does it: real zero point, no 0 forced into the range. */
function minMax(v: Float64Array, n: number, maxq: number): { s: number; z: number } {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, v[i]!);
    hi = Math.max(hi, v[i]!);
  }
  if (!(hi > lo)) [lo, hi] = n > 0 && Number.isFinite(lo) && lo !== 0 ? [lo - Math.abs(lo), lo + Math.abs(lo)] : [-1, 1];
  const s = (hi - lo) / maxq;
  return { s, z: -lo / s };
}

const EPS = 1e-9;
const qz = (v: number, s: number, z: number, maxq: number): number => Math.min(maxq, Math.max(0, Math.round(v / Math.max(s, EPS) + z)));

/**
 * Second-level quantization of one statistic vector (length rows) in blocks of statGroup rows:
 * writes the codes into stat row g and the fp16 pairs, and returns the dequantized values in place.
 */
function quantizeStat(v: Float64Array, rows: number, statGroup: number, statBits: number, codes: Uint8Array, g: number, sScale: Uint16Array, sZero: Uint16Array, nB: number): void {
  const maxq = (1 << statBits) - 1, rb = rowBytesFor(rows, statBits), blk = new Float64Array(statGroup);
  for (let b = 0; b < nB; b++) {
    const r0 = b * statGroup, r1 = Math.min(rows, r0 + statGroup);
    for (let r = r0; r < r1; r++) blk[r - r0] = v[r]!;
    const fit = minMax(blk, r1 - r0, maxq);
    const sb = f32ToF16Bits(fit.s), zb = f32ToF16Bits(fit.z), s = f16BitsToF32(sb), z = f16BitsToF32(zb);
    sScale[g * nB + b] = sb;
    sZero[g * nB + b] = zb;
    for (let r = r0; r < r1; r++) {
      const q = qz(v[r]!, s, z, maxq);
      putCode(codes, rb, statBits, g, r, q);
      v[r] = s * (q - z);
    }
  }
}

/** The SpQR column loop on one matrix for one τ; see the file comment. */
function spqrPass(rows: number, cols: number, U: Float64Array, W0: Float64Array, order: Int32Array, tau: number, o: Required<Omit<SpqrOptions, 'threshold' | 'fraction'>>): { matrix: SpqrMatrix; outlier: Uint8Array; kept: Float32Array; count: number } {
  const { bits, group, statBits, statGroup, blockSize: bs } = o;
  const maxq = (1 << bits) - 1, nG = Math.ceil(cols / group), nB = Math.ceil(rows / statGroup), sb = rowBytesFor(rows, statBits);
  const m: SpqrMatrix = {
    rows, cols, bits, group, statBits, statGroup, rowBytes: rowBytesFor(cols, bits),
    codes: new Uint8Array(rows * rowBytesFor(cols, bits)), scaleCodes: new Uint8Array(nG * sb), zeroCodes: new Uint8Array(nG * sb),
    scaleScale: new Uint16Array(nG * nB), scaleZero: new Uint16Array(nG * nB), zeroScale: new Uint16Array(nG * nB), zeroZero: new Uint16Array(nG * nB),
  };
  const W = Float64Array.from(W0);
  const pos = new Int32Array(cols);
  for (let j = 0; j < cols; j++) pos[order[j]!] = j;
  const diag = (j: number): number => U[j * cols + j]!;
  // The outlier scale of the reference: mean over columns of Var_r(W[:, j]) / U_jj².
  let outlierScale = 0;
  for (let j = 0; j < cols; j++) {
    let mean = 0, sq = 0;
    for (let r = 0; r < rows; r++) mean += W[r * cols + j]!;
    mean /= rows;
    for (let r = 0; r < rows; r++) sq += (W[r * cols + j]! - mean) ** 2;
    outlierScale += sq / Math.max(1, rows - 1) / diag(j) ** 2;
  }
  const thr = (tau * outlierScale) / cols;
  const S = new Float64Array(nG * rows), Z = new Float64Array(nG * rows), fitted = new Uint8Array(nG);
  const vals = new Float64Array(group), d = new Float64Array(group), loo = new Float64Array(group), likely = new Uint8Array(group);
  // Hessian-weighted squared error of quantizing vals[0..n) except `skip` with the min/max fit of the rest.
  const errWithout = (n: number, skip: number): number => {
    let k = 0;
    for (let i = 0; i < n; i++) if (i !== skip) loo[k++] = vals[i]!;
    const { s, z } = minMax(loo, k, maxq);
    let e = 0;
    for (let i = 0; i < n; i++) if (i !== skip) e += ((vals[i]! - s * (qz(vals[i]!, s, z, maxq) - z)) / d[i]!) ** 2;
    return e;
  };
  const fitGroup = (g: number): void => {
    const c0 = g * group, n = Math.min(cols, c0 + group) - c0;
    for (let i = 0; i < n; i++) d[i] = diag(pos[c0 + i]!);
    for (let r = 0; r < rows; r++) {
      for (let i = 0; i < n; i++) vals[i] = W[r * cols + pos[c0 + i]!]!;
      if (Number.isFinite(thr)) {
        // Likely outliers by the leave-one-out error reduction; replaced by the mean of the rest.
        const base = errWithout(n, -1);
        let sum = 0, cnt = 0;
        for (let i = 0; i < n; i++) {
          likely[i] = base - errWithout(n, i) > thr ? 1 : 0;
          if (!likely[i]) [sum, cnt] = [sum + vals[i]!, cnt + 1];
        }
        const mean = sum / Math.max(1, cnt);
        for (let i = 0; i < n; i++) if (likely[i]) vals[i] = mean;
      }
      const { s, z } = minMax(vals, n, maxq);
      S[g * rows + r] = s;
      Z[g * rows + r] = z;
    }
    quantizeStat(S.subarray(g * rows, (g + 1) * rows), rows, statGroup, statBits, m.scaleCodes, g, m.scaleScale, m.scaleZero, nB);
    quantizeStat(Z.subarray(g * rows, (g + 1) * rows), rows, statGroup, statBits, m.zeroCodes, g, m.zeroScale, m.zeroZero, nB);
    fitted[g] = 1;
  };

  const outlier = new Uint8Array(rows * cols), kept = new Float32Array(rows * cols);
  let count = 0;
  const err = new Float64Array(rows * bs);
  for (let b0 = 0; b0 < cols; b0 += bs) {
    const b1 = Math.min(cols, b0 + bs);
    for (let j = b0; j < b1; j++) {
      const oc = order[j]!, g = Math.floor(oc / group);
      if (!fitted[g]) fitGroup(g);
      const dj = diag(j);
      for (let r = 0; r < rows; r++) {
        const v = W[r * cols + j]!, s = S[g * rows + r]!, z = Z[g * rows + r]!;
        let q = qz(v, s, z, maxq), e = (v - s * (q - z)) / dj;
        if (e * e > thr) {
          // An outlier: the code of 0, the exact value carried by the side matrix, no error fed back.
          q = qz(0, s, z, maxq);
          outlier[r * cols + oc] = 1;
          kept[r * cols + oc] = v - s * (q - z);
          count++;
          e = 0;
        }
        putCode(m.codes, m.rowBytes, bits, r, oc, q);
        feedBack(W, U, cols, err, bs, r, j, b0, b1, e);
      }
    }
    lazyBatchUpdate(W, U, rows, cols, err, bs, b0, b1);
  }
  return { matrix: m, outlier, kept, count };
}

/** SpQR of row-major W (rows × cols) with Hessian H (cols × cols). */
export function quantizeSpqr(w: Float32Array, rows: number, cols: number, hessian: Float64Array, opts: SpqrOptions): SpqrResult {
  const o = {
    bits: opts.bits, group: opts.group ?? 16, statBits: opts.statBits ?? 3, statGroup: opts.statGroup ?? 16,
    damp: opts.damp ?? 0.01, blockSize: opts.blockSize ?? 128, actOrder: opts.actOrder ?? true,
  };
  const fraction = opts.fraction ?? 0.01;
  if (!SPQR_BITS.includes(o.bits)) throw new ZipmlError('E_ARG', `spqr: bit width ${o.bits} is not one of ${SPQR_BITS.join(', ')}`);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || cols > 65536 || w.length !== rows * cols) throw new ZipmlError('E_ARG', `spqr: shape ${rows} x ${cols} does not match ${w.length} weights`);
  if (hessian.length !== cols * cols) throw new ZipmlError('E_ARG', `spqr: Hessian has ${hessian.length} entries, expected ${cols} x ${cols}`);
  if (!Number.isInteger(o.group) || o.group < 2 || o.group > 128) throw new ZipmlError('E_ARG', `spqr: group ${o.group} is outside 2..128`);
  if (!Number.isInteger(o.statBits) || o.statBits < 2 || o.statBits > 8 || !Number.isInteger(o.statGroup) || o.statGroup < 1) throw new ZipmlError('E_ARG', `spqr: stat bits ${o.statBits} (2..8) / stat group ${o.statGroup}`);
  if (!(o.damp > 0) || !Number.isInteger(o.blockSize) || o.blockSize % o.group !== 0) throw new ZipmlError('E_ARG', `spqr: damp ${o.damp} must be > 0 and blockSize ${o.blockSize} a multiple of the group`);
  if (opts.threshold !== undefined && !(opts.threshold > 0)) throw new ZipmlError('E_ARG', `spqr: threshold ${opts.threshold} must be > 0`);
  if (!(fraction >= 0 && fraction < 1)) throw new ZipmlError('E_ARG', `spqr: fraction ${fraction} is outside [0, 1)`);
  for (let i = 0; i < w.length; i++) if (!Number.isFinite(w[i]!)) throw new ZipmlError('E_ARG', `spqr: weight ${i} is ${w[i]}`);
  const { order, W, U } = permutedProblem(w, rows, cols, hessian, o.actOrder, o.damp);
  const run = (tau: number): ReturnType<typeof spqrPass> & { tau: number } => ({ ...spqrPass(rows, cols, U, W, order, tau, o), tau });
  let best: ReturnType<typeof run>;
  if (opts.threshold !== undefined) best = run(opts.threshold);
  else {
    // The smallest τ (most outliers) whose count stays within the budget, by bisection on log τ.
    const budget = Math.floor(fraction * rows * cols);
    best = run(Infinity);
    if (budget > 0) {
      let lo = -12, hi = 12;
      for (let it = 0; it < 16; it++) {
        const mid = (lo + hi) / 2, r = run(Math.exp(mid));
        if (r.count <= budget) [best, hi] = [r, mid];
        else lo = mid;
      }
    }
  }
  return { matrix: best.matrix, sparse: sparseFromMask(best.kept, best.outlier, rows, cols), threshold: best.tau };
}

/** One layer: y = Ŵx + Sx and its storage bits. */
export function spqrLayer(w: Float32Array, rows: number, cols: number, hessian: Float64Array, opts: SpqrOptions): { op: OutlierLinear; bits: number } {
  const r = quantizeSpqr(w, rows, cols, hessian, opts);
  return { op: new OutlierLinear(new SpqrLinear(r.matrix), r.sparse), bits: spqrBits(r.matrix) + sparseBits(r.sparse) };
}

/** SpQR on every block linear layer (Hessians from the calibration docs, like GPTQ). */
export function quantizeModelSpqr(model: LlamaModel, calibration: readonly (readonly number[])[], opts: SpqrOptions & CalibratedOptions): QuantizedModel {
  return quantizeWithHessians(model, calibration, 'spqr', opts, (_l, _n, op, h) => spqrLayer(op.weights, op.rows, op.cols, h, opts));
}
