/**
 * Linear layers as onnxruntime's com.microsoft MatMulNBits contrib operator (onnxruntime
 * docs/ContribOperators.md; the layout transformers.js / onnxruntime-web 4-bit models use):
 *   Y[.., N] = A[.., K] @ dequant(B)^T, dequant(B)[n, k] = (q[n, k] - zero_point[n, k / block]) * scales[n, k / block]
 *   B:           uint8 [N, k_blocks, blob_size], k_blocks = ceil(K / block_size), blob_size = block_size * bits / 8;
 *                codes packed along K inside each block, least significant bits first (4-bit: even k in the low nibble);
 *   scales:      [N * k_blocks], the type of A (float32 here, or float16);
 *   zero_points: optional uint8 [N * ceil(k_blocks * bits / 8)], packed like B row by row, or unpacked
 *                in the type of A [N * k_blocks] (real zero points, as HQQ's); absent means 2^(bits - 1);
 *   attributes:  K, N, bits, block_size (a power of two >= 16).
 * Our packed group codes are that layout already (codes LSB-first along a row, fp16 scales,
 * symmetric zero 2^(bits-1)), so export is a re-layout: each row padded to whole blocks with its
 * zero-point code, scales widened from fp16 to float32 exactly (or kept fp16 for fp16 graphs),
 * integer zero points packed, fp16 zero points (HQQ) written unpacked as floats. Nothing is requantized.
 */
import { ZipmlError } from '../../core/errors.js';
import { f16ToF32 } from '../../core/dtypes.js';
import { type OnnxInitializer, type OnnxNode, type OnnxValueInfo, encodeOnnxModel } from '../formats/onnx-write.js';
import type { LinearOp } from '../llm/linear.js';
import { LINEAR_NAMES, LlamaModel } from '../llm/model.js';
import { denseWeights } from './dense-weights.js';
import { type PackedMatrix, type QuantGroup, codeAt, groupsPerRow, putCode, rowBytesFor, symmetricZero } from './packed.js';
import { QuantLinear } from './qmatvec.js';
import { quantizeRTN } from './rtn.js';

export interface MatMulNBitsWeights {
  K: number;
  N: number;
  bits: 4 | 8;
  blockSize: QuantGroup;
  /** [N, kBlocks, blobSize]. */
  B: Uint8Array;
  /** fp16 bits, [N * kBlocks]. */
  scales: Uint16Array;
  /** Packed [N, ceil(kBlocks * bits / 8)], or undefined for the default zero point 2^(bits-1). */
  zeroPoints: Uint8Array | undefined;
  /** Real zero points, fp16 bits [N * kBlocks] (written unpacked in A's type); excludes zeroPoints. */
  zeroPointsF16?: Uint16Array | undefined;
}

const kBlocks = (w: { K: number; blockSize: number }): number => Math.ceil(w.K / w.blockSize);
const zpRowBytes = (nb: number, bits: number): number => Math.ceil((nb * bits) / 8);

/** Our packed codes (4 or 8 bits) as MatMulNBits inputs with block_size = group. */
export function matMulNBitsFromPacked(p: PackedMatrix): MatMulNBitsWeights {
  if (p.bits !== 4 && p.bits !== 8) throw new ZipmlError('E_ARG', `MatMulNBits export: ${p.bits}-bit codes; 4 and 8 are exported`);
  const bits = p.bits, nb = groupsPerRow(p.cols, p.group), blob = (p.group * bits) / 8;
  const B = new Uint8Array(p.rows * nb * blob);
  for (let r = 0; r < p.rows; r++) {
    const o = r * nb * blob;
    B.set(p.codes.subarray(r * p.rowBytes, (r + 1) * p.rowBytes), o);
    // The tail of the last block (never read: K says where a row ends) holds the zero-point code.
    const zf = p.zeroF16 ? Math.round(f16ToF32(p.zeroF16.subarray(r * nb + nb - 1, r * nb + nb))[0]!) : 0;
    const z = p.zeros ? p.zeros[r * nb + nb - 1]! : p.zeroF16 ? Math.min((1 << bits) - 1, Math.max(0, zf)) : symmetricZero(bits);
    for (let c = p.cols; c < nb * p.group; c++) putCode(B, nb * blob, bits, r, c, z);
  }
  let zeroPoints: Uint8Array | undefined;
  if (p.zeros) {
    const zb = zpRowBytes(nb, bits);
    zeroPoints = new Uint8Array(p.rows * zb);
    for (let r = 0; r < p.rows; r++) for (let g = 0; g < nb; g++) putCode(zeroPoints, zb, bits, r, g, p.zeros[r * nb + g]!);
  }
  return { K: p.cols, N: p.rows, bits, blockSize: p.group, B, scales: p.scales.slice(), zeroPoints, ...(p.zeroF16 ? { zeroPointsF16: p.zeroF16.slice() } : {}) };
}

/** The packed codes a MatMulNBits weight holds (the inverse of matMulNBitsFromPacked). */
export function packedFromMatMulNBits(w: MatMulNBitsWeights): PackedMatrix {
  const nb = kBlocks(w), blob = (w.blockSize * w.bits) / 8, rowBytes = rowBytesFor(w.K, w.bits);
  if (w.B.length !== w.N * nb * blob || w.scales.length !== w.N * nb) throw new ZipmlError('E_ARG', `MatMulNBits: B or scales do not match N ${w.N}, K ${w.K}, block ${w.blockSize}`);
  const codes = new Uint8Array(w.N * rowBytes);
  for (let r = 0; r < w.N; r++) {
    codes.set(w.B.subarray(r * nb * blob, r * nb * blob + rowBytes), r * rowBytes);
    // Bits past K in the last byte belong to padding; our rows keep them zero.
    const spare = rowBytes * 8 - w.K * w.bits;
    if (spare > 0) codes[(r + 1) * rowBytes - 1]! &= 0xff >> spare;
  }
  let zeros: Uint8Array | undefined;
  if (w.zeroPoints) {
    const zb = zpRowBytes(nb, w.bits), zp = w.zeroPoints;
    zeros = new Uint8Array(w.N * nb);
    const view: PackedMatrix = { rows: w.N, cols: nb, bits: w.bits, group: 32, symmetric: true, rowBytes: zb, codes: zp, scales: new Uint16Array(0), zeros: undefined };
    for (let r = 0; r < w.N; r++) for (let g = 0; g < nb; g++) zeros[r * nb + g] = codeAt(view, r, g);
  }
  if (w.zeroPointsF16) {
    if (w.zeroPointsF16.length !== w.N * nb) throw new ZipmlError('E_ARG', `MatMulNBits: ${w.zeroPointsF16.length} float zero points, expected ${w.N * nb}`);
    return { rows: w.N, cols: w.K, bits: w.bits, group: w.blockSize, symmetric: false, rowBytes, codes, scales: w.scales.slice(), zeros: undefined, zeroF16: w.zeroPointsF16.slice() };
  }
  return { rows: w.N, cols: w.K, bits: w.bits, group: w.blockSize, symmetric: !zeros, rowBytes, codes, scales: w.scales.slice(), zeros };
}

/**
 * Y = A W^T for one row of A, decoded straight from the MatMulNBits inputs as the operator's spec
 * defines them (independent of our packed-matrix code): in double, stored as float32.
 */
export function matMulNBitsReference(w: MatMulNBitsWeights, a: Float32Array, out: Float32Array = new Float32Array(w.N)): Float32Array {
  const nb = kBlocks(w), blob = (w.blockSize * w.bits) / 8, mask = (1 << w.bits) - 1, zb = zpRowBytes(nb, w.bits);
  const scales = f16ToF32(w.scales), zf = w.zeroPointsF16 ? f16ToF32(w.zeroPointsF16) : undefined;
  for (let n = 0; n < w.N; n++) {
    let y = 0;
    for (let k = 0; k < w.K; k++) {
      const blk = Math.floor(k / w.blockSize), i = k % w.blockSize;
      const bit = i * w.bits, byte = w.B[n * nb * blob + blk * blob + (bit >> 3)]!;
      const q = (byte >> (bit & 7)) & mask;
      let zp = 1 << (w.bits - 1);
      if (zf) zp = zf[n * nb + blk]!;
      else if (w.zeroPoints) {
        const zbit = blk * w.bits;
        zp = (w.zeroPoints[n * zb + (zbit >> 3)]! >> (zbit & 7)) & mask;
      }
      y += (q - zp) * scales[n * nb + blk]! * a[k]!;
    }
    out[n] = y;
  }
  return out;
}

export interface MatMulNBitsLayer {
  /** Node name; inputs are `<name>.A`, the output `<name>.Y`. */
  name: string;
  weights: MatMulNBitsWeights;
}

export interface MatMulNBitsModelOptions {
  /** Type of A, scales and Y. Default float32. */
  dtype?: 'float32' | 'float16';
  /** MatMulNBits accuracy_level attribute (0 unset, 1 fp32, 4 int8 activations); omitted when undefined. */
  accuracyLevel?: number;
}

/** An ONNX model with one MatMulNBits node per layer; each has its own input [batch, K] and output [batch, N]. */
export function encodeMatMulNBitsModel(layers: readonly MatMulNBitsLayer[], opts: MatMulNBitsModelOptions = {}): Uint8Array {
  const fp16 = opts.dtype === 'float16', t = fp16 ? 'FLOAT16' : 'FLOAT';
  const nodes: OnnxNode[] = [], inits: OnnxInitializer[] = [], inputs: OnnxValueInfo[] = [], outputs: OnnxValueInfo[] = [];
  const names = new Set<string>();
  for (const { name, weights: w } of layers) {
    if (names.has(name)) throw new ZipmlError('E_ARG', `MatMulNBits export: layer name '${name}' repeats`);
    names.add(name);
    const nb = kBlocks(w), blob = (w.blockSize * w.bits) / 8;
    const scales = fp16 ? new Uint8Array(w.scales.slice().buffer) : new Uint8Array(f16ToF32(w.scales).buffer);
    inits.push({ name: `${name}.B`, dtype: 'UINT8', dims: [w.N, nb, blob], data: w.B });
    inits.push({ name: `${name}.scales`, dtype: t, dims: [w.N * nb], data: scales });
    const ins = [`${name}.A`, `${name}.B`, `${name}.scales`];
    if (w.zeroPoints) {
      inits.push({ name: `${name}.zero_points`, dtype: 'UINT8', dims: [w.zeroPoints.length], data: w.zeroPoints });
      ins.push(`${name}.zero_points`);
    } else if (w.zeroPointsF16) {
      const z = fp16 ? new Uint8Array(w.zeroPointsF16.slice().buffer) : new Uint8Array(f16ToF32(w.zeroPointsF16).buffer);
      inits.push({ name: `${name}.zero_points`, dtype: t, dims: [w.N * nb], data: z });
      ins.push(`${name}.zero_points`);
    }
    const intAttrs: Record<string, number> = { K: w.K, N: w.N, bits: w.bits, block_size: w.blockSize };
    if (opts.accuracyLevel !== undefined) intAttrs['accuracy_level'] = opts.accuracyLevel;
    nodes.push({ opType: 'MatMulNBits', domain: 'com.microsoft', name, inputs: ins, outputs: [`${name}.Y`], intAttrs });
    inputs.push({ name: `${name}.A`, dtype: t, shape: ['batch', w.K] });
    outputs.push({ name: `${name}.Y`, dtype: t, shape: ['batch', w.N] });
  }
  return encodeOnnxModel({ graphName: 'zipml_matmulnbits', nodes, initializers: inits, inputs, outputs, opsets: { '': 17, 'com.microsoft': 1 } });
}

export interface MatMulNBitsExportOptions extends MatMulNBitsModelOptions {
  /** For fp32 layers: RTN bit width and block (default 4 bits, block 32, symmetric). */
  bits?: 4 | 8;
  blockSize?: QuantGroup;
  symmetric?: boolean;
}

/** A layer's MatMulNBits weights: its own 4/8-bit codes when it has them, else RTN codes of its fp32 weights. */
export function matMulNBitsOf(op: LinearOp, opts: MatMulNBitsExportOptions = {}): MatMulNBitsWeights {
  if (op instanceof QuantLinear && (op.packed.bits === 4 || op.packed.bits === 8)) return matMulNBitsFromPacked(op.packed);
  return matMulNBitsFromPacked(quantizeRTN(denseWeights(op), op.rows, op.cols, { bits: opts.bits ?? 4, group: opts.blockSize ?? 32, symmetric: opts.symmetric ?? true }));
}

/** Every block linear layer of a model (named blk.<l>.<wq|...>) as one ONNX file of MatMulNBits nodes. */
export function exportMatMulNBits(model: LlamaModel, opts: MatMulNBitsExportOptions = {}): { bytes: Uint8Array; layers: MatMulNBitsLayer[] } {
  const layers: MatMulNBitsLayer[] = [];
  model.weights.blocks.forEach((b, l) => {
    for (const n of LINEAR_NAMES) layers.push({ name: `blk.${l}.${n}`, weights: matMulNBitsOf(b[n], opts) });
  });
  return { bytes: encodeMatMulNBitsModel(layers, opts), layers };
}
