/**
 * ncnn weights (Tencent/ncnn): the .bin holds each layer's weights in layer order, as the
 * layer's load_model reads them through ModelBinFromDataReader::load(w, type) (src/modelbin.cpp):
 *  - type 1: w raw float32;
 *  - type 0: a 4-byte flag first; 0x01306B47 = fp16 (w halves, padded to 4 bytes), 0x000D4B38 =
 *    int8 (w bytes, padded to 4), 0x0002C056 = float32, any other non-zero flag = a 256-float
 *    table then w u8 indices (padded to 4), a zero flag = float32.
 * The .param text file (magic 7767517) lists the layers and their `key=value` params, which give
 * w for each load. Layers we know weigh nothing are skipped; for a layer type we do not know, the
 * reader falls back to splitting the rest of the .bin at the fp16 tags (documented in
 * docs/tensor-formats.md) and says so in metadata['ncnn.fallback'].
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { type ByteSource, type ModelLayout, type TensorDType, type TensorRegion, MAX_TENSORS } from '../layout.js';
import { Cursor, alignUp, decodeUtf8, readExact } from './common.js';

const WHAT = 'ncnn';
export const NCNN_PARAM_MAGIC = 7767517;
export const NCNN_MAX_PARAM_BYTES = 64 << 20;
const TAG_FP16 = 0x01306b47;
const TAG_INT8 = 0x000d4b38;
const TAG_FP32 = 0x0002c056;

/** Layer types whose load_model reads nothing from the .bin. */
const WEIGHTLESS = new Set([
  'AbsVal', 'ArgMax', 'BinaryOp', 'BNLL', 'Cast', 'CELU', 'Clip', 'Concat', 'Crop', 'DeepCopy', 'Dequantize', 'Dropout', 'Eltwise', 'ELU', 'Erf',
  'Exp', 'ExpandDims', 'Flatten', 'Flip', 'Fold', 'GELU', 'GLU', 'Gemm', 'GridSample', 'HardSigmoid', 'HardSwish', 'Input', 'Interp', 'Log',
  'LRN', 'MatMul', 'Mish', 'MVN', 'Noop', 'Normalize', 'Packing', 'Padding', 'Permute', 'PixelShuffle', 'Pooling', 'Pooling1D', 'Pooling3D',
  'Power', 'PriorBox', 'Proposal', 'PSROIPooling', 'Reduction', 'ReLU', 'Reorg', 'Reshape', 'ROIAlign', 'ROIPooling', 'SELU', 'ShuffleChannel',
  'Sigmoid', 'Slice', 'Softmax', 'Softplus', 'Split', 'Squeeze', 'Swish', 'TanH', 'Threshold', 'Tile', 'UnaryOp', 'Unfold', 'YoloDetectionOutput',
  'Yolov3DetectionOutput', 'DetectionOutput', 'CopyTo', 'Einsum', 'Shrink', 'RMSNorm',
]);

interface Layer {
  type: string;
  name: string;
  ints: Map<number, number>;
}

/** Parses the text .param: magic, counts, then one layer per line with its `k=v` params. */
export function parseNcnnParam(text: string): Layer[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines[0] !== `${NCNN_PARAM_MAGIC}`) throw new ZipmlError('E_FORMAT', `${WHAT}: .param does not start with ${NCNN_PARAM_MAGIC}`);
  const counts = (lines[1] ?? '').split(/\s+/).map(Number);
  const nLayers = counts[0]!;
  if (counts.length !== 2 || !Number.isInteger(nLayers) || nLayers < 0 || nLayers > MAX_TENSORS) throw new ZipmlError('E_CORRUPT', `${WHAT}: bad layer/blob counts '${lines[1]}'`);
  if (lines.length - 2 !== nLayers) throw new ZipmlError('E_CORRUPT', `${WHAT}: .param declares ${nLayers} layers, has ${lines.length - 2} lines`);
  return lines.slice(2).map((line, i) => {
    const tok = line.split(/\s+/);
    const [type, name, nIn, nOut] = [tok[0]!, tok[1] ?? '', Number(tok[2]), Number(tok[3])];
    if (!Number.isInteger(nIn) || !Number.isInteger(nOut) || nIn < 0 || nOut < 0 || 4 + nIn + nOut > tok.length) {
      throw new ZipmlError('E_CORRUPT', `${WHAT}: layer line ${i + 3} ('${name}') has bad blob counts`);
    }
    const ints = new Map<number, number>();
    for (const kv of tok.slice(4 + nIn + nOut)) {
      const m = /^(-?\d+)=(.*)$/.exec(kv);
      if (!m) throw new ZipmlError('E_CORRUPT', `${WHAT}: layer '${name}' has a malformed param '${kv}'`);
      const k = Number(m[1]);
      if (k > -23300) {
        const v = Number(m[2]);
        if (!Number.isFinite(v)) throw new ZipmlError('E_CORRUPT', `${WHAT}: layer '${name}' param ${k} is '${m[2]}'`);
        ints.set(k, v);
      }
    }
    return { type, name, ints };
  });
}

/** The loads a layer's load_model makes: [suffix, element count, load type, shape]. */
function loadsOf(l: Layer): [string, number, 0 | 1, number[]][] | undefined {
  const p = (k: number, d = 0) => l.ints.get(k) ?? d;
  const conv = (depthwise: boolean): [string, number, 0 | 1, number[]][] => {
    if (p(19) === 1) return []; // dynamic weight: comes from a blob, not the .bin
    const out = p(0), kw = p(1), kh = p(11, kw), size = p(6), group = p(7, 1), int8 = p(8);
    const inner = out * kw * kh > 0 && size % (out * kw * kh) === 0 ? [out, size / (out * kw * kh), kh, kw] : [size];
    const loads: [string, number, 0 | 1, number[]][] = [['weight', size, 0, inner]];
    if (p(5)) loads.push(['bias', out, 1, [out]]);
    if (int8) {
      loads.push(['weight_int8_scales', depthwise ? group : out, 1, [depthwise ? group : out]]);
      const bottom = depthwise && (int8 === 2 || int8 === 102) ? group : 1;
      loads.push(['bottom_int8_scales', bottom, 1, [bottom]]);
      if (int8 > 100) loads.push(['top_int8_scales', 1, 1, [1]]);
    }
    return loads;
  };
  switch (l.type) {
    case 'Convolution': case 'Deconvolution': case 'Convolution1D': case 'Deconvolution1D': case 'Convolution3D': case 'Deconvolution3D':
      return conv(false);
    case 'ConvolutionDepthWise': case 'DeconvolutionDepthWise': case 'ConvolutionDepthWise1D': case 'DeconvolutionDepthWise1D':
    case 'ConvolutionDepthWise3D': case 'DeconvolutionDepthWise3D':
      return conv(true);
    case 'InnerProduct': {
      const out = p(0), size = p(2);
      const loads: [string, number, 0 | 1, number[]][] = [['weight', size, 0, out > 0 && size % out === 0 ? [out, size / out] : [size]]];
      if (p(1)) loads.push(['bias', out, 1, [out]]);
      if (p(8)) loads.push(['weight_int8_scales', out, 1, [out]], ['bottom_int8_scales', 1, 1, [1]]);
      return loads;
    }
    case 'BatchNorm': {
      const c = p(0);
      return ['slope', 'mean', 'var', 'bias'].map((s) => [s, c, 1, [c]]);
    }
    case 'Scale': {
      const n = p(0);
      if (n === -233) return [];
      return p(1) ? [['scale', n, 1, [n]], ['bias', n, 1, [n]]] : [['scale', n, 1, [n]]];
    }
    case 'PReLU':
      return [['slope', p(0), 1, [p(0)]]];
    case 'Bias':
      return [['bias', p(0), 1, [p(0)]]];
    case 'Embed': {
      const out = p(0), size = p(3);
      const loads: [string, number, 0 | 1, number[]][] = [['weight', size, 0, out > 0 && size % out === 0 ? [size / out, out] : [size]]];
      if (p(2)) loads.push(['bias', out, 1, [out]]);
      return loads;
    }
    case 'MemoryData': {
      if (p(0) <= 0) return [];
      const shape = [p(2), p(11), p(1), p(0)].filter((d) => d > 0); // c, d, h, w
      return [['data', shape.reduce((a, b) => a * b, 1), 1, shape]];
    }
    default:
      return WEIGHTLESS.has(l.type) ? [] : undefined;
  }
}

export interface NcnnLayoutOptions {
  fileName?: string;
  sidecar?: (name: string) => Promise<ByteSource | undefined>;
  maxHeaderBytes?: number;
  signal?: AbortSignal;
}

/** The .param next to a .bin: `<stem>.param`. */
export function ncnnParamName(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  return `${base.replace(/\.bin$/i, '')}.param`;
}

export async function readNcnnParam(opts: NcnnLayoutOptions): Promise<Layer[] | undefined> {
  if (!opts.sidecar || !opts.fileName) return undefined;
  const side = await opts.sidecar(ncnnParamName(opts.fileName));
  if (!side) return undefined;
  const max = opts.maxHeaderBytes ?? NCNN_MAX_PARAM_BYTES;
  if (side.size > max) throw new ZipmlError('E_LIMIT', `${WHAT}: .param of ${side.size} bytes exceeds ${max}`);
  return parseNcnnParam(decodeUtf8(await readExact(side, 0, side.size, `${WHAT} .param`, opts.signal), `${WHAT} .param`, 0));
}

export async function readNcnnLayout(src: ByteSource, opts: NcnnLayoutOptions = {}): Promise<ModelLayout> {
  const layers = await readNcnnParam(opts);
  if (!layers) throw new ZipmlError('E_FORMAT', `${WHAT}: the .bin needs its .param (pass fileName and sidecar)`);
  const tensors: TensorRegion[] = [];
  const metadata: Record<string, string> = { layers: `${layers.length}` };
  let at = 0;
  const push = (name: string, dtype: TensorDType, shape: number[], byteLength: number) => {
    if (byteLength > src.size - at) throw new ZipmlError('E_TRUNCATED', `${WHAT}: '${name}' needs ${byteLength} bytes at ${at}, the .bin has ${src.size}`, { offset: at });
    if (tensors.length >= MAX_TENSORS) throw new ZipmlError('E_LIMIT', `${WHAT}: more than ${MAX_TENSORS} tensors`, { offset: at });
    tensors.push({ name, dtype, shape, offset: at, byteLength });
  };
  for (const layer of layers) {
    throwIfAborted(opts.signal, WHAT);
    const loads = loadsOf(layer);
    if (!loads) {
      metadata['ncnn.fallback'] = `${layer.type} (layer '${layer.name}'): rest of the .bin split at fp16 tags`;
      await splitAtTags(src, at, tensors, opts.signal);
      return { format: 'ncnn', fileSize: src.size, tensors, metadata };
    }
    for (const [suffix, w, type, shape] of loads) {
      if (!Number.isSafeInteger(w) || w < 0 || w > src.size) throw new ZipmlError('E_CORRUPT', `${WHAT}: layer '${layer.name}' ${suffix} has ${w} elements`, { offset: at });
      const name = `${layer.name}.${suffix}`;
      if (type === 1) {
        push(name, 'F32', shape, w * 4);
        at += w * 4;
        continue;
      }
      const flag = new Cursor(await readExact(src, at, 4, `${WHAT} '${name}' flag`, opts.signal), at, WHAT);
      const tag = flag.u32('flag');
      at += 4;
      const sum = (tag & 255) + ((tag >>> 8) & 255) + ((tag >>> 16) & 255) + (tag >>> 24);
      if (tag === TAG_FP16) {
        push(name, 'F16', shape, w * 2);
        at += alignUp(w * 2, 4);
      } else if (tag === TAG_INT8) {
        push(name, 'I8', shape, w);
        at += alignUp(w, 4);
      } else if (tag === TAG_FP32 || sum === 0) {
        push(name, 'F32', shape, w * 4);
        at += w * 4;
      } else {
        push(`${name}.table`, 'F32', [256], 1024);
        at += 1024;
        push(`${name}.index`, 'U8', shape, w);
        at += alignUp(w, 4);
      }
      if (at > src.size) throw new ZipmlError('E_TRUNCATED', `${WHAT}: '${name}' padding runs past the end of the .bin`, { offset: src.size });
    }
  }
  if (at !== src.size) throw new ZipmlError('E_CORRUPT', `${WHAT}: the .param accounts for ${at} bytes, the .bin has ${src.size}`, { offset: at });
  return { format: 'ncnn', fileSize: src.size, tensors, metadata };
}

/** Fallback: from `from` on, each fp16 tag starts an F16 region that runs to the next tag (or the end). */
async function splitAtTags(src: ByteSource, from: number, tensors: TensorRegion[], signal?: AbortSignal): Promise<void> {
  const tags: number[] = [];
  const CHUNK = 1 << 20;
  for (let at = from; at + 4 <= src.size; at += CHUNK) {
    const b = await readExact(src, at, Math.min(CHUNK + 3, src.size - at), `${WHAT} scan`, signal);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i + 4 <= b.length && i < CHUNK; i += 4) if (dv.getUint32(i, true) === TAG_FP16) tags.push(at + i);
    if (tags.length > MAX_TENSORS) throw new ZipmlError('E_LIMIT', `${WHAT}: more than ${MAX_TENSORS} tags`, { offset: at });
  }
  if (tags.length === 0 || tags[0]! > from) {
    const end = tags[0] ?? src.size;
    const n = end - from;
    if (n > 0) tensors.push({ name: `untagged@${from}`, dtype: n % 4 === 0 ? 'F32' : 'U8', shape: [n % 4 === 0 ? n / 4 : n], offset: from, byteLength: n });
  }
  tags.forEach((t, i) => {
    const n = (tags[i + 1] ?? src.size) - (t + 4);
    if (n > 0) tensors.push({ name: `blob@${t}`, dtype: n % 2 === 0 ? 'F16' : 'U8', shape: [n % 2 === 0 ? n / 2 : n], offset: t + 4, byteLength: n });
  });
}
