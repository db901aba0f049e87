/**
 * ONNX weights (onnx/onnx.proto): ModelProto.graph -> GraphProto.initializer (TensorProto), plus
 * every other place a TensorProto can hold constants: Constant nodes and other node attributes
 * (AttributeProto.t / .tensors), subgraphs of If/Loop/Scan (AttributeProto.g / .graphs), sparse
 * initializers (values and indices), training graphs and function bodies.
 *
 * For each TensorProto we record where its bytes are: `raw_data` (field 9) exactly, or a packed
 * `float_data` / `double_data` field (fixed-width little-endian, same bytes as raw). Varint-coded
 * fields (int32_data, int64_data, uint64_data) and unpacked repeated fields are not fixed-width
 * byte arrays, so they stay structure. Tensors with `data_location = EXTERNAL` name a file, offset
 * and length (`external_data` key-values); they go to `layout.external`, checked against the
 * file's size when `sidecar` can open it.
 */
import { ZipmlError } from '../../core/errors.js';
import {
  type ByteSource, type ExternalTensorRegion, type ModelLayout, type TensorDType, type TensorRegion, MAX_DIMS, MAX_NAME_BYTES, MAX_TENSORS,
} from '../layout.js';
import { elementCount, checkRegions } from './common.js';
import { ProtoReader, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT } from './protobuf.js';

const WHAT = 'onnx';
/** Deepest nesting of messages we follow (graphs inside node attributes inside graphs ...). */
export const ONNX_MAX_DEPTH = 48;
const MAX_STRING = 1 << 20;

/** TensorProto.DataType -> our dtype and bytes per element (0.5 for the 4-bit types). */
const DATA_TYPES: Record<number, [TensorDType, number]> = {
  1: ['F32', 4], 2: ['U8', 1], 3: ['I8', 1], 4: ['U16', 2], 5: ['I16', 2], 6: ['I32', 4], 7: ['I64', 8], 9: ['BOOL', 1], 10: ['F16', 2],
  11: ['F64', 8], 12: ['U32', 4], 13: ['U64', 8], 14: ['F32', 8], 15: ['F64', 16], 16: ['BF16', 2], 17: ['F8_E4M3', 1], 18: ['U8', 1],
  19: ['F8_E5M2', 1], 20: ['U8', 1], 21: ['U8', 0.5], 22: ['U8', 0.5], 23: ['U8', 0.5], 24: ['U8', 1],
};
const DATA_TYPE_NAMES: Record<number, string> = {
  14: 'COMPLEX64', 15: 'COMPLEX128', 18: 'FLOAT8E4M3FNUZ', 20: 'FLOAT8E5M2FNUZ', 21: 'UINT4', 22: 'INT4', 23: 'FLOAT4E2M1', 24: 'FLOAT8E8M0',
};

type Kind = 'model' | 'graph' | 'node' | 'attribute' | 'sparse' | 'training' | 'function';
/** Which fields of each message lead to messages that can hold tensors. */
const CHILDREN: Record<Kind, Record<number, Kind | 'tensor'>> = {
  model: { 7: 'graph', 20: 'training', 25: 'function' },
  training: { 1: 'graph', 2: 'graph' },
  function: { 7: 'node' },
  graph: { 1: 'node', 5: 'tensor', 15: 'sparse' },
  node: { 5: 'attribute' },
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse', 23: 'sparse' },
  sparse: { 1: 'tensor', 2: 'tensor' },
};

interface Found {
  name: string;
  dims: number[];
  dataType: number;
  /** [offset, length, wire field] of the fixed-width data, if any. */
  data?: [number, number, number];
  external?: Record<string, string>;
  at: number;
}

class Walker {
  readonly found: Found[] = [];
  readonly metadata: Record<string, string> = {};
  constructor(readonly r: ProtoReader) {}

  async message(kind: Kind, end: number, depth: number, path: string): Promise<void> {
    if (depth > ONNX_MAX_DEPTH) throw new ZipmlError('E_LIMIT', `${WHAT}: messages nest deeper than ${ONNX_MAX_DEPTH}`, { offset: this.r.pos });
    const r = this.r;
    let name = '';
    while (r.pos < end) {
      const [field, wire] = await r.tag(end);
      const child = CHILDREN[kind][field];
      if (child !== undefined && wire === WIRE_LEN) {
        const n = await r.length(end);
        const childEnd = r.pos + n;
        if (child === 'tensor') await this.tensor(childEnd, path);
        else await this.message(child, childEnd, depth + 1, name ? `${path}${name}/` : path);
        if (r.pos !== childEnd) throw new ZipmlError('E_CORRUPT', `${WHAT}: ${child} message ends at ${r.pos}, expected ${childEnd}`, { offset: r.pos });
      } else if (((kind === 'node' && field === 3) || (kind === 'attribute' && field === 1)) && wire === WIRE_LEN) {
        name = await r.string(end, MAX_NAME_BYTES, `${kind} name`); // names subgraph tensors after their node/attribute
      } else if (kind === 'model' && depth === 0 && wire === WIRE_VARINT && (field === 1 || field === 5)) {
        this.metadata[field === 1 ? 'ir_version' : 'model_version'] = `${await r.svarint(end)}`;
      } else if (kind === 'model' && depth === 0 && wire === WIRE_LEN && field === 14) {
        const [key, value] = await this.keyValue(end, MAX_STRING, 'metadata_props');
        this.metadata[`metadata_props.${key}`] = value;
      } else if (kind === 'model' && depth === 0 && wire === WIRE_LEN && field >= 2 && field <= 4) {
        this.metadata[['producer_name', 'producer_version', 'domain'][field - 2]!] = await r.string(end, MAX_STRING, 'model string');
      } else await r.skip(wire, end);
    }
    if (r.pos !== end) throw new ZipmlError('E_CORRUPT', `${WHAT}: ${kind} message overruns its length`, { offset: end });
  }

  /** A StringStringEntryProto (key = 1, value = 2). */
  private async keyValue(end: number, max: number, what: string): Promise<[string, string]> {
    const r = this.r;
    const n = await r.length(end); // before reading pos: length() advances it
    const stop = r.pos + n;
    let key = '', value = '';
    while (r.pos < stop) {
      const [f, w] = await r.tag(stop);
      if (f === 1 && w === WIRE_LEN) key = await r.string(stop, max, `${what} key`);
      else if (f === 2 && w === WIRE_LEN) value = await r.string(stop, max, `${what} value`);
      else await r.skip(w, stop);
    }
    return [key, value];
  }

  private async tensor(end: number, path: string): Promise<void> {
    const r = this.r;
    const at = r.pos;
    if (this.found.length >= MAX_TENSORS) throw new ZipmlError('E_LIMIT', `${WHAT}: more than ${MAX_TENSORS} tensors`, { offset: at });
    const t: Found = { name: '', dims: [], dataType: 0, at };
    const dataFields: [number, number, number][] = [];
    let location = 0;
    const pushDim = (d: number, off: number) => {
      if (t.dims.length >= MAX_DIMS) throw new ZipmlError('E_LIMIT', `${WHAT}: tensor has more than ${MAX_DIMS} dims`, { offset: off });
      if (d < 0) throw new ZipmlError('E_CORRUPT', `${WHAT}: negative dimension ${d}`, { offset: off });
      t.dims.push(d);
    };
    while (r.pos < end) {
      const [field, wire] = await r.tag(end);
      if (field === 1 && wire === WIRE_VARINT) pushDim(await r.svarint(end), r.pos);
      else if (field === 1 && wire === WIRE_LEN) {
        const n = await r.length(end);
        const stop = r.pos + n;
        while (r.pos < stop) pushDim(await r.svarint(stop), r.pos);
      } else if (field === 2 && wire === WIRE_VARINT) t.dataType = await r.varint(end);
      else if (field === 8 && wire === WIRE_LEN) t.name = await r.string(end, MAX_NAME_BYTES, 'tensor name');
      else if ((field === 9 || field === 4 || field === 10) && wire === WIRE_LEN) {
        const n = await r.length(end);
        dataFields.push([r.pos, n, field]);
        r.pos += n;
      } else if ((field === 4 && wire === WIRE_I32) || (field === 10 && wire === WIRE_I64)) {
        dataFields.push([-1, 0, field]); // unpacked repeated values: not one byte range
        await r.skip(wire, end);
      } else if (field === 13 && wire === WIRE_LEN) {
        const [key, value] = await this.keyValue(end, 4096, 'external_data');
        t.external ??= {};
        if (key in t.external) throw new ZipmlError('E_CORRUPT', `${WHAT}: external_data key '${key}' repeats`, { offset: r.pos });
        t.external[key] = value;
      } else if (field === 14 && wire === WIRE_VARINT) location = await r.varint(end);
      else await r.skip(wire, end);
    }
    t.name = `${path}${t.name}`;
    if (location === 1) {
      if (!t.external) throw new ZipmlError('E_CORRUPT', `${WHAT}: tensor '${t.name}' is EXTERNAL without external_data`, { offset: at });
    } else {
      delete t.external;
      if (dataFields.length === 1 && dataFields[0]![0] >= 0) t.data = dataFields[0];
    }
    this.found.push(t);
  }
}

/** Bytes a tensor of `dims` takes, or undefined for types without a fixed width (strings, unknown). */
function tensorBytes(t: Found): { dtype: TensorDType; shape: number[]; bytes: number } | undefined {
  const dt = DATA_TYPES[t.dataType];
  if (!dt) return undefined;
  const n = elementCount(t.dims, Number.MAX_SAFE_INTEGER / 16, `${WHAT}: tensor '${t.name}'`, t.at);
  const [dtype, size] = dt;
  const bytes = Math.ceil(n * size);
  // Complex types are pairs of floats; sub-byte and *FNUZ types are kept as plain bytes.
  if (t.dataType === 14 || t.dataType === 15) return { dtype, shape: [...t.dims, 2], bytes };
  if (DATA_TYPE_NAMES[t.dataType]) return { dtype, shape: [bytes], bytes };
  return { dtype, shape: t.dims.slice(), bytes };
}

/** Checks an external_data location the way onnx's checker does: relative, inside the model's folder. */
function safeLocation(loc: string, name: string): string {
  if (loc === '' || loc.startsWith('/') || loc.startsWith('\\') || /^[a-zA-Z]:/.test(loc) || loc.split(/[\\/]/).includes('..')) {
    throw new ZipmlError('E_CORRUPT', `${WHAT}: tensor '${name}' has an unsafe external data location '${loc}'`);
  }
  return loc;
}

function externalRegion(t: Found): ExternalTensorRegion {
  const e = t.external!;
  const info = tensorBytes(t);
  if (!info) throw new ZipmlError('E_FORMAT', `${WHAT}: external tensor '${t.name}' has data type ${t.dataType}`, { offset: t.at });
  const num = (k: string, dflt: number): number => {
    const v = e[k];
    if (v === undefined) return dflt;
    if (!/^\d{1,16}$/.test(v)) throw new ZipmlError('E_CORRUPT', `${WHAT}: external tensor '${t.name}' has ${k} '${v}'`, { offset: t.at });
    return Number(v);
  };
  const offset = num('offset', 0);
  const byteLength = num('length', info.bytes);
  if (byteLength !== info.bytes) throw new ZipmlError('E_CORRUPT', `${WHAT}: external tensor '${t.name}' length ${byteLength}, its shape needs ${info.bytes}`, { offset: t.at });
  return { name: t.name, dtype: info.dtype, shape: info.shape, offset, byteLength, file: safeLocation(e.location ?? '', t.name) };
}

export interface OnnxLayoutOptions {
  sidecar?: (name: string) => Promise<ByteSource | undefined>;
  signal?: AbortSignal;
}

export async function readOnnxLayout(src: ByteSource, opts: OnnxLayoutOptions = {}): Promise<ModelLayout> {
  const w = new Walker(new ProtoReader(src, WHAT, opts.signal));
  await w.message('model', src.size, 0, '');
  const tensors: TensorRegion[] = [];
  const external: ExternalTensorRegion[] = [];
  const seen = new Map<string, number>();
  let structureTensors = 0;
  for (const t of w.found) {
    const k = (seen.get(t.name) ?? 0) + 1;
    seen.set(t.name, k);
    if (k > 1) t.name = `${t.name}#${k}`; // the same name in two subgraphs
    if (t.external) {
      external.push(externalRegion(t));
      continue;
    }
    const info = tensorBytes(t);
    if (!t.data || !info) {
      structureTensors++;
      continue;
    }
    const [offset, length, field] = t.data;
    const wantType = field === 4 ? [1, 14] : field === 10 ? [11, 15] : undefined;
    if (wantType && !wantType.includes(t.dataType)) {
      throw new ZipmlError('E_CORRUPT', `${WHAT}: tensor '${t.name}' of data type ${t.dataType} stores ${field === 4 ? 'float_data' : 'double_data'}`, { offset });
    }
    if (length !== info.bytes) throw new ZipmlError('E_CORRUPT', `${WHAT}: tensor '${t.name}' has ${length} data bytes, dims [${t.dims.join(',')}] need ${info.bytes}`, { offset });
    tensors.push({ name: t.name, dtype: info.dtype, shape: info.shape, offset, byteLength: length });
  }
  tensors.sort((a, b) => a.offset - b.offset);
  checkRegions(tensors, 0, src.size, WHAT);
  const files = [...new Set(external.map((x) => x.file))];
  for (const f of files) {
    const regs = external.filter((x) => x.file === f).sort((a, b) => a.offset - b.offset);
    const side = opts.sidecar ? await opts.sidecar(f) : undefined;
    checkRegions(regs, 0, side ? side.size : Number.MAX_SAFE_INTEGER, `${WHAT} external data '${f}'`);
    w.metadata[`external:${f}`] = side ? `${regs.length} tensors, ${side.size} bytes, checked` : `${regs.length} tensors, not opened`;
  }
  external.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.offset - b.offset));
  w.metadata.tensors_kept_as_structure = `${structureTensors}`;
  return { format: 'onnx', fileSize: src.size, tensors, metadata: w.metadata, external };
}
