/**
 * Group-wise integer weight codes, packed. A matrix W (rows x cols, output x input) is cut along
 * the input dimension into groups of `group` consecutive columns (the last group of a row may be
 * shorter when cols is not a multiple). Each (row, group) has an fp16 scale s and a zero point z;
 * weight = s * (q - z) with the code q in 0..2^bits - 1 (bits = 2, 3, 4, 5, 6 or 8).
 *   - symmetric: z = 2^(bits-1) for every group (not stored);
 *   - asymmetric, integer zero: z in 0..2^bits - 1, stored as one byte per (row, group) (`zeros`);
 *   - asymmetric, fp16 zero: z a real number stored as fp16 bits per (row, group) (`zeroF16`),
 *     for quantizers whose optimal zero point is not an integer (HQQ). Used instead of `zeros`.
 * Codes are bit-packed per row, least significant bits first: code c of a row occupies bits
 * c*bits .. c*bits + bits - 1 of the row's little-endian bit stream; every row starts on a byte
 * (rowBytes = ceil(cols * bits / 8)).
 */
import { ZipmlError } from '../../core/errors.js';
import { f16BitsToF32 } from '../../core/dtypes.js';

export type QuantBits = 2 | 3 | 4 | 5 | 6 | 8;
export type QuantGroup = 32 | 64 | 128;
export const QUANT_BITS: readonly QuantBits[] = [8, 6, 5, 4, 3, 2];
export const QUANT_GROUPS: readonly QuantGroup[] = [32, 64, 128];

export interface PackedMatrix {
  rows: number;
  cols: number;
  bits: QuantBits;
  group: QuantGroup;
  symmetric: boolean;
  rowBytes: number;
  /** rows * rowBytes bytes. */
  codes: Uint8Array;
  /** fp16 bits, rows * groupsPerRow, row-major. */
  scales: Uint16Array;
  /** Asymmetric with integer zero points: rows * groupsPerRow of them. */
  zeros: Uint8Array | undefined;
  /** Asymmetric with real zero points: fp16 bits, rows * groupsPerRow (then `zeros` is undefined). */
  zeroF16?: Uint16Array | undefined;
}

export const groupsPerRow = (cols: number, group: number): number => Math.ceil(cols / group);
export const rowBytesFor = (cols: number, bits: number): number => Math.ceil((cols * bits) / 8);
/** The zero point of symmetric codes. */
export const symmetricZero = (bits: number): number => 1 << (bits - 1);

/** Checks a packed matrix's fields and array sizes (for matrices that come from outside). */
export function checkPacked(p: PackedMatrix): void {
  const bad = (m: string): never => {
    throw new ZipmlError('E_ARG', `packed matrix: ${m}`);
  };
  if (!QUANT_BITS.includes(p.bits)) bad(`bit width ${p.bits} is not one of ${QUANT_BITS.join(', ')}`);
  if (!QUANT_GROUPS.includes(p.group)) bad(`group ${p.group} is not one of ${QUANT_GROUPS.join(', ')}`);
  if (!Number.isInteger(p.rows) || !Number.isInteger(p.cols) || p.rows < 1 || p.cols < 1) bad(`shape ${p.rows} x ${p.cols}`);
  if (p.rowBytes !== rowBytesFor(p.cols, p.bits) || p.codes.length !== p.rows * p.rowBytes) bad(`codes hold ${p.codes.length} bytes, expected ${p.rows} x ${rowBytesFor(p.cols, p.bits)}`);
  const n = p.rows * groupsPerRow(p.cols, p.group);
  if (p.scales.length !== n) bad(`${p.scales.length} scales, expected ${n}`);
  const kinds = (p.zeros ? 1 : 0) + (p.zeroF16 ? 1 : 0);
  if (p.symmetric ? kinds !== 0 : kinds !== 1) bad(`zero points do not match symmetric = ${p.symmetric} (give zeros or zeroF16, not both)`);
  if ((p.zeros ?? p.zeroF16) && (p.zeros ?? p.zeroF16)!.length !== n) bad(`${(p.zeros ?? p.zeroF16)!.length} zero points, expected ${n}`);
  if (p.zeros?.some((z) => z >= 1 << p.bits)) bad(`a zero point exceeds ${(1 << p.bits) - 1}`);
  if (p.zeroF16?.some((z) => (z & 0x7c00) === 0x7c00)) bad('an fp16 zero point is infinite or NaN');
  if (p.scales.some((h) => (h & 0x7c00) === 0x7c00)) bad('a scale is infinite or NaN');
}

/** The zero point z of group i (= r * groupsPerRow + g): fp16, integer, or the symmetric constant. */
export function zeroPoint(p: PackedMatrix, i: number): number {
  if (p.zeroF16) return f16BitsToF32(p.zeroF16[i]!);
  return p.zeros ? p.zeros[i]! : symmetricZero(p.bits);
}

/** What codeAt needs: bit-packed rows (integer codes here, table indices in table.ts). */
export interface CodeRows {
  readonly bits: number;
  readonly rowBytes: number;
  readonly codes: Uint8Array;
}

/** Code c of row r. */
export function codeAt(p: CodeRows, r: number, c: number): number {
  const bit = c * p.bits, at = r * p.rowBytes + (bit >> 3), sh = bit & 7;
  const word = p.codes[at]! | ((p.codes[at + 1] ?? 0) << 8);
  return (word >> sh) & ((1 << p.bits) - 1);
}

/** Writes code q at bit position c * bits of row r (the bits there must be zero). */
export function putCode(codes: Uint8Array, rowBytes: number, bits: number, r: number, c: number, q: number): void {
  const bit = c * bits, at = r * rowBytes + (bit >> 3), sh = bit & 7;
  codes[at] = codes[at]! | ((q << sh) & 0xff);
  if (sh + bits > 8) codes[at + 1] = codes[at + 1]! | (q >> (8 - sh));
}

/** Storage in bits per weight, counting codes (with row padding), scales and zero points. */
export function bitsPerWeight(p: PackedMatrix): number {
  return (8 * p.codes.length + 16 * p.scales.length + 8 * (p.zeros?.length ?? 0) + 16 * (p.zeroF16?.length ?? 0)) / (p.rows * p.cols);
}

/** Checks the sizes of a batched product: x holds n vectors of cols, out n vectors of rows. */
export function checkBatch(rows: number, cols: number, x: Float32Array, n: number, out: Float32Array): void {
  if (!Number.isInteger(n) || n < 1 || x.length < n * cols || out.length < n * rows) {
    throw new ZipmlError('E_ARG', `matmul: ${n} vectors need ${n} x ${cols} inputs and ${n} x ${rows} outputs, got ${x.length} and ${out.length}`);
  }
}

/** Runs a matrix-vector product once per vector of a batch (the references and fallbacks of matmul). */
export function forEachVector(rows: number, cols: number, x: Float32Array, n: number, out: Float32Array, mv: (x: Float32Array, out: Float32Array) => void): void {
  checkBatch(rows, cols, x, n, out);
  for (let j = 0; j < n; j++) mv(x.subarray(j * cols, (j + 1) * cols), out.subarray(j * rows, (j + 1) * rows));
}
