/**
 * TFLite (tensorflow/lite/schema/schema.fbs): a FlatBuffer with identifier "TFL3". Model.buffers
 * (field 4) holds every constant's bytes, either inline as Buffer.data (field 0, a [ubyte] vector)
 * or, in files over 2 GB, at Buffer.offset / Buffer.size (fields 1, 2: an absolute file range
 * after the FlatBuffer). Model.subgraphs[].tensors[] (field 2 -> 0) give each tensor's shape
 * (0), type (1) and buffer index (2), so a buffer's region gets the dtype and shape of the first
 * tensor that uses it; buffers no tensor uses (metadata) are U8.
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import { type ByteSource, type ModelLayout, type TensorDType, type TensorRegion, MAX_DIMS, MAX_NAME_BYTES, MAX_TENSORS } from '../layout.js';
import { checkRegions, elementCount } from './common.js';
import { FlatReader } from './flatbuffer.js';

const WHAT = 'tflite';

/** TensorType -> dtype and element bytes (0: no fixed width, kept as U8). */
const TYPES: Record<number, [TensorDType, number, string]> = {
  0: ['F32', 4, 'FLOAT32'], 1: ['F16', 2, 'FLOAT16'], 2: ['I32', 4, 'INT32'], 3: ['U8', 1, 'UINT8'], 4: ['I64', 8, 'INT64'], 5: ['U8', 0, 'STRING'],
  6: ['BOOL', 1, 'BOOL'], 7: ['I16', 2, 'INT16'], 8: ['F32', 8, 'COMPLEX64'], 9: ['I8', 1, 'INT8'], 10: ['F64', 8, 'FLOAT64'], 11: ['F64', 16, 'COMPLEX128'],
  12: ['U64', 8, 'UINT64'], 13: ['U8', 0, 'RESOURCE'], 14: ['U8', 0, 'VARIANT'], 15: ['U32', 4, 'UINT32'], 16: ['U16', 2, 'UINT16'], 17: ['U8', 0, 'INT4'],
  18: ['BF16', 2, 'BFLOAT16'],
};

interface Use {
  name: string;
  type: number;
  shape: number[];
}

export async function readTfliteLayout(src: ByteSource, opts: { signal?: AbortSignal } = {}): Promise<ModelLayout> {
  const r = new FlatReader(src, WHAT, opts.signal);
  const ident = await r.bytes(4, 4, 'file identifier');
  if (String.fromCharCode(...ident) !== 'TFL3') throw new ZipmlError('E_FORMAT', `${WHAT}: file identifier is not TFL3`, { offset: 4 });
  const model = await r.tableAt(0, 'Model');
  const version = await model.u32(0, 0);
  const description = (await model.string(3, MAX_NAME_BYTES)) ?? '';

  // Which tensor uses each buffer (first use wins).
  const uses = new Map<number, Use>();
  const subgraphs = (await model.vector(2, 4, MAX_TENSORS)) ?? [0, 0];
  let nTensors = 0;
  for (let s = 0; s < subgraphs[1]; s++) {
    const sg = await r.tableAt(subgraphs[0] + 4 * s, `subgraph ${s}`);
    const tv = (await sg.vector(0, 4, MAX_TENSORS)) ?? [0, 0];
    nTensors += tv[1];
    if (nTensors > MAX_TENSORS) throw new ZipmlError('E_LIMIT', `${WHAT}: more than ${MAX_TENSORS} tensors`, { offset: tv[0] });
    for (let i = 0; i < tv[1]; i++) {
      throwIfAborted(opts.signal, WHAT);
      const t = await r.tableAt(tv[0] + 4 * i, `subgraph ${s} tensor ${i}`);
      const buffer = await t.u32(2, 0);
      if (buffer === 0 || uses.has(buffer)) continue; // buffer 0 is the empty sentinel
      const sv = await t.vector(0, 4, 64);
      const shape: number[] = [];
      for (let d = 0; sv && d < sv[1]; d++) shape.push(await r.i32(sv[0] + 4 * d, 'shape'));
      uses.set(buffer, { name: (await t.string(3, MAX_NAME_BYTES)) ?? `tensor_${s}_${i}`, type: await t.u8(1, 0), shape });
    }
  }

  const bv = (await model.vector(4, 4, MAX_TENSORS)) ?? [0, 0];
  const tensors: TensorRegion[] = [];
  const typeBytes: Record<string, number> = {};
  const names = new Set<string>();
  for (let b = 0; b < bv[1]; b++) {
    throwIfAborted(opts.signal, WHAT);
    const buf = await r.tableAt(bv[0] + 4 * b, `buffer ${b}`);
    let offset: number, byteLength: number;
    const data = await buf.vector(0, 1, src.size);
    const off = await buf.u64(1, 0);
    if (data && data[1] > 0) [offset, byteLength] = data;
    else if (off > 1) {
      // Large-model mode: an absolute range after the FlatBuffer (offset 1 is the "not yet placed" marker).
      offset = off;
      byteLength = await buf.u64(2, 0);
      if (byteLength > src.size - offset || offset > src.size) throw new ZipmlError('E_TRUNCATED', `${WHAT}: buffer ${b} at ${offset} (+${byteLength}) is outside the file`, { offset: bv[0] + 4 * b });
    } else continue;
    const use = uses.get(b);
    const name = use ? use.name : `buffer_${b}`;
    let dtype: TensorDType = 'U8';
    let shape = [byteLength];
    const info = use && TYPES[use.type];
    if (use && info && info[1] > 0 && use.shape.length <= MAX_DIMS && use.shape.every((d) => d >= 0)) {
      const n = elementCount(use.shape, Number.MAX_SAFE_INTEGER / 16, `${WHAT}: tensor '${name}'`);
      if (n * info[1] !== byteLength) throw new ZipmlError('E_CORRUPT', `${WHAT}: tensor '${name}' ${info[2]}[${use.shape.join(',')}] needs ${n * info[1]} bytes, buffer ${b} has ${byteLength}`, { offset });
      dtype = info[0];
      shape = info[2].startsWith('COMPLEX') ? [...use.shape, 2] : use.shape;
    }
    const key = use && info ? info[2] : 'UNUSED';
    typeBytes[key] = (typeBytes[key] ?? 0) + byteLength;
    const unique = names.has(name) ? `${name}#${b}` : name;
    names.add(unique);
    tensors.push({ name: unique, dtype, shape, offset, byteLength });
  }
  tensors.sort((a, b) => a.offset - b.offset);
  checkRegions(tensors, 8, src.size, WHAT);
  const metadata: Record<string, string> = { version: `${version}`, description, subgraphs: `${subgraphs[1]}`, buffers: `${bv[1]}` };
  for (const [k, v] of Object.entries(typeBytes)) metadata[`bytes.${k}`] = `${v}`;
  return { format: 'tflite', fileSize: src.size, tensors, metadata };
}
