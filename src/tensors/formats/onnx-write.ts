/**
 * A small ONNX writer: a ModelProto holding one graph of nodes with int attributes, raw-data
 * initializers, and typed graph inputs and outputs (onnx/onnx.proto field numbers). Enough to ship
 * weights with the operators that compute on them (MatMulNBits); not a general graph builder.
 */
import { ZipmlError } from '../../core/errors.js';

/** onnx TensorProto.DataType values we write. */
export const ONNX_DTYPE = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10 } as const;
export type OnnxDType = keyof typeof ONNX_DTYPE;

export interface OnnxInitializer {
  name: string;
  dtype: OnnxDType;
  dims: number[];
  /** Little-endian element bytes (raw_data). */
  data: Uint8Array;
}

export interface OnnxValueInfo {
  name: string;
  dtype: OnnxDType;
  /** A number is a fixed size, a string a symbolic one ("batch"). */
  shape: (number | string)[];
}

export interface OnnxNode {
  opType: string;
  domain?: string;
  name: string;
  inputs: string[];
  outputs: string[];
  /** INT attributes only. */
  intAttrs?: Record<string, number>;
}

export interface OnnxModelSpec {
  graphName: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Domain -> opset version; "" is the default ONNX domain. */
  opsets: Record<string, number>;
  producer?: string;
  irVersion?: number;
}

const ELEMENT_BYTES: Record<OnnxDType, number> = { FLOAT: 4, UINT8: 1, INT8: 1, INT32: 4, INT64: 8, FLOAT16: 2 };

/** Protobuf wire-format bytes of one message, built field by field. */
class Proto {
  private parts: Uint8Array[] = [];
  private n = 0;
  private push(b: Uint8Array): this {
    this.parts.push(b);
    this.n += b.length;
    return this;
  }
  private varintBytes(v: number | bigint): Uint8Array {
    let x = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      out.push(b);
    } while (x > 0n);
    return Uint8Array.from(out);
  }
  varint(field: number, v: number | bigint): this {
    return this.push(this.varintBytes(field << 3)).push(this.varintBytes(v));
  }
  bytes(field: number, b: Uint8Array): this {
    return this.push(this.varintBytes((field << 3) | 2)).push(this.varintBytes(b.length)).push(b);
  }
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  message(field: number, m: Proto): this {
    return this.bytes(field, m.finish());
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.n);
    let at = 0;
    for (const p of this.parts) out.set(p, at), (at += p.length);
    return out;
  }
}

function valueInfo(v: OnnxValueInfo): Proto {
  const shape = new Proto();
  for (const d of v.shape) shape.message(1, typeof d === 'number' ? new Proto().varint(1, d) : new Proto().string(2, d));
  const tensorType = new Proto().varint(1, ONNX_DTYPE[v.dtype]).message(2, shape);
  return new Proto().string(1, v.name).message(2, new Proto().message(1, tensorType));
}

function initializer(t: OnnxInitializer): Proto {
  const count = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== count * ELEMENT_BYTES[t.dtype]) throw new ZipmlError('E_ARG', `onnx: initializer '${t.name}' has ${t.data.length} bytes, dims [${t.dims.join(', ')}] of ${t.dtype} need ${count * ELEMENT_BYTES[t.dtype]}`);
  const p = new Proto();
  for (const d of t.dims) p.varint(1, d);
  return p.varint(2, ONNX_DTYPE[t.dtype]).string(8, t.name).bytes(9, t.data);
}

function node(n: OnnxNode): Proto {
  const p = new Proto();
  for (const i of n.inputs) p.string(1, i);
  for (const o of n.outputs) p.string(2, o);
  p.string(3, n.name).string(4, n.opType);
  // AttributeProto: name 1, i 3, type 20 (INT = 2).
  for (const [k, v] of Object.entries(n.intAttrs ?? {})) p.message(5, new Proto().string(1, k).varint(3, v).varint(20, 2));
  if (n.domain) p.string(7, n.domain);
  return p;
}

/** The serialized ModelProto. */
export function encodeOnnxModel(spec: OnnxModelSpec): Uint8Array {
  const g = new Proto();
  for (const n of spec.nodes) g.message(1, node(n));
  g.string(2, spec.graphName);
  for (const t of spec.initializers) g.message(5, initializer(t));
  for (const v of spec.inputs) g.message(11, valueInfo(v));
  for (const v of spec.outputs) g.message(12, valueInfo(v));
  const m = new Proto().varint(1, spec.irVersion ?? 8).string(2, spec.producer ?? 'zipml');
  for (const [domain, version] of Object.entries(spec.opsets)) m.message(8, new Proto().string(1, domain).varint(2, version));
  return m.message(7, g).finish();
}
