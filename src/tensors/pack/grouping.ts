/**
 * Byte grouping, the transform at the heart of ZipNN: the bytes of each value are split into
 * separate streams (one per byte position), so that the stream holding the exponent, which is
 * highly skewed in learned weights, is entropy-coded apart from the mantissa bytes, which are
 * close to uniform and are stored raw.
 *
 * For IEEE floats the exponent straddles a byte boundary (sign + 7 exponent bits in the top byte,
 * the 8th exponent bit in the next). As ZipNN does, the bits are reordered first so that the
 * exponent fills one byte and the sign moves to the top of the next byte:
 *
 *   f32  s eeeeeeee mmmmmmm mmmmmmmm mmmmmmmm -> [eeeeeeee] [s mmmmmmm] [mmmmmmmm] [mmmmmmmm]
 *   bf16 s eeeeeeee mmmmmmm                   -> [eeeeeeee] [s mmmmmmm]
 *   f16  s eeeee mm mmmmmmmm                  -> [eeeeemmm] [s mmmmmmm]   (the same rotation)
 *
 * Streams are laid out one after another in a buffer of the same size: stream k of an n-byte
 * input of element size E occupies bytes [k·n/E, (k+1)·n/E). Stream 0 is always the most
 * significant byte (the exponent for floats). Integer dtypes are split by byte position without
 * any bit reordering (most significant byte first). Little-endian values in and out.
 */
import { ZipmlError } from '../../core/errors.js';
import { wasmKernel, type WasmKernel } from '../../kernels/loader.js';
import * as bytegroupWasm from '../../kernels/generated/bytegroup.js';

export interface BytegroupExports {
  group32(src: number, m: number, dst: number): void;
  ungroup32(s: number, m: number, dst: number): void;
  group16(src: number, m: number, dst: number): void;
  ungroup16(s: number, m: number, dst: number): void;
  groupInt(src: number, m: number, e: number, dst: number): void;
  ungroupInt(s: number, m: number, e: number, dst: number): void;
  histogram(src: number, n: number, out: number, scratch: number): void;
}

/** The WebAssembly SIMD kernel (src/kernels/assembly/bytegroup.ts), or null on the reference path. */
export function bytegroupKernel(): WasmKernel<BytegroupExports> | null {
  return wasmKernel<BytegroupExports>('bytegroup', bytegroupWasm.base64);
}

/** Runs the kernel's grouping of m elements at src into streams at dst (pointers in its memory). */
export function kernelGroup(k: WasmKernel<BytegroupExports>, scheme: GroupScheme, src: number, m: number, dst: number): void {
  if (scheme === 'f32') k.exports.group32(src, m, dst);
  else if (scheme === 'bf16' || scheme === 'f16') k.exports.group16(src, m, dst);
  else k.exports.groupInt(src, m, schemeElementBytes(scheme), dst);
}

/** Inverse of kernelGroup. */
export function kernelUngroup(k: WasmKernel<BytegroupExports>, scheme: GroupScheme, s: number, m: number, dst: number): void {
  if (scheme === 'f32') k.exports.ungroup32(s, m, dst);
  else if (scheme === 'bf16' || scheme === 'f16') k.exports.ungroup16(s, m, dst);
  else k.exports.ungroupInt(s, m, schemeElementBytes(scheme), dst);
}

/** How the bytes of a lane are grouped into streams. */
export type GroupScheme = 'f32' | 'bf16' | 'f16' | 'b1' | 'b2' | 'b4' | 'b8';

export const GROUP_SCHEMES: readonly GroupScheme[] = ['f32', 'bf16', 'f16', 'b1', 'b2', 'b4', 'b8'];

/** Bytes per element = number of streams. */
export function schemeElementBytes(s: GroupScheme): number {
  switch (s) {
    case 'f32': case 'b4': return 4;
    case 'bf16': case 'f16': case 'b2': return 2;
    case 'b8': return 8;
    case 'b1': return 1;
  }
}

const DTYPE_SCHEMES: Record<string, GroupScheme> = {
  F32: 'f32', BF16: 'bf16', F16: 'f16', F64: 'b8', I64: 'b8', U64: 'b8', I32: 'b4', U32: 'b4', I16: 'b2', U16: 'b2',
};

/** The grouping for a tensor dtype: 1-byte types, ggml blocks and odd sizes go as plain bytes. */
export function schemeForDtype(dtype: string, byteLength: number): GroupScheme {
  const s = DTYPE_SCHEMES[dtype] ?? 'b1';
  return byteLength % schemeElementBytes(s) === 0 ? s : 'b1';
}

function u32View(a: Uint8Array, n: number): Uint32Array {
  return (a.byteOffset & 3) === 0 ? new Uint32Array(a.buffer, a.byteOffset, n) : new Uint32Array(a.slice(0, n * 4).buffer);
}
function u16View(a: Uint8Array, n: number): Uint16Array {
  return (a.byteOffset & 1) === 0 ? new Uint16Array(a.buffer, a.byteOffset, n) : new Uint16Array(a.slice(0, n * 2).buffer);
}

function checkSizes(scheme: GroupScheme, a: Uint8Array, b: Uint8Array): number {
  const e = schemeElementBytes(scheme);
  if (a.length !== b.length || a.length % e !== 0) {
    throw new ZipmlError('E_ARG', `byte grouping ${scheme}: ${a.length} and ${b.length} bytes (need equal sizes, a multiple of ${e})`);
  }
  return a.length / e;
}

/** Splits `src` into the scheme's streams, written one after another into `out` (same size). */
export function groupBytes(scheme: GroupScheme, src: Uint8Array, out: Uint8Array): void {
  const m = checkSizes(scheme, src, out);
  switch (scheme) {
    case 'b1':
      out.set(src);
      return;
    case 'f32': {
      const u = u32View(src, m);
      const s1 = m, s2 = 2 * m, s3 = 3 * m;
      for (let i = 0; i < m; i++) {
        const v = u[i]!;
        out[i] = v >>> 23;
        out[s1 + i] = ((v >>> 24) & 0x80) | ((v >>> 16) & 0x7f);
        out[s2 + i] = v >>> 8;
        out[s3 + i] = v;
      }
      return;
    }
    case 'bf16': case 'f16': {
      const u = u16View(src, m);
      for (let i = 0; i < m; i++) {
        const v = u[i]!;
        out[i] = v >>> 7;
        out[m + i] = ((v >>> 8) & 0x80) | (v & 0x7f);
      }
      return;
    }
    default: {
      // Integers: stream k = byte (e-1-k) of each element, most significant first.
      const e = schemeElementBytes(scheme);
      for (let k = 0; k < e; k++) {
        const base = k * m, b = e - 1 - k;
        for (let i = 0; i < m; i++) out[base + i] = src[i * e + b]!;
      }
    }
  }
}

/**
 * Inverse of groupBytes: interleaves the streams back into values in `out`. `streams` are the
 * scheme's streams in order, each out.length / E bytes (views anywhere: raw streams are read
 * straight from a payload without a copy).
 */
export function ungroupBytes(scheme: GroupScheme, streams: readonly Uint8Array[], out: Uint8Array): void {
  const e = schemeElementBytes(scheme);
  const m = out.length / e;
  if (!Number.isInteger(m) || streams.length !== e || streams.some((s) => s.length !== m)) {
    throw new ZipmlError('E_ARG', `byte ungrouping ${scheme}: ${streams.length} streams for ${out.length} bytes`);
  }
  switch (scheme) {
    case 'b1':
      out.set(streams[0]!);
      return;
    case 'f32': {
      const u = (out.byteOffset & 3) === 0 ? new Uint32Array(out.buffer, out.byteOffset, m) : new Uint32Array(m);
      const [s0, s1, s2, s3] = streams as [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
      for (let i = 0; i < m; i++) {
        const a = s1[i]!;
        u[i] = ((a & 0x80) << 24) | (s0[i]! << 23) | ((a & 0x7f) << 16) | (s2[i]! << 8) | s3[i]!;
      }
      if (u.buffer !== out.buffer) out.set(new Uint8Array(u.buffer));
      return;
    }
    case 'bf16': case 'f16': {
      const u = (out.byteOffset & 1) === 0 ? new Uint16Array(out.buffer, out.byteOffset, m) : new Uint16Array(m);
      const [s0, s1] = streams as [Uint8Array, Uint8Array];
      for (let i = 0; i < m; i++) {
        const a = s1[i]!;
        u[i] = ((a & 0x80) << 8) | (s0[i]! << 7) | (a & 0x7f);
      }
      if (u.buffer !== out.buffer) out.set(new Uint8Array(u.buffer));
      return;
    }
    default: {
      for (let k = 0; k < e; k++) {
        const s = streams[k]!, b = e - 1 - k;
        for (let i = 0; i < m; i++) out[i * e + b] = s[i]!;
      }
    }
  }
}
