/**
 * xxHash32 (XXH32), the checksum of every zipml format. Chosen over CRC32C because its inner loop
 * is four independent 32-bit multiply-rotate lanes, which is fast both in plain JS (Math.imul) and
 * in WebAssembly, with no tables. Checked against the published test vectors of the xxHash repo.
 *
 * `xxh32(bytes, seed)` hashes one buffer; `Xxh32` hashes a stream fed in pieces.
 */
import { wasmKernel } from '../kernels/loader.js';
import * as xxh32Wasm from '../kernels/generated/xxh32.js';

const P1 = 2654435761;
const P2 = 2246822519;
const P3 = 3266489917;
const P4 = 668265263;
const P5 = 374761393;

interface Xxh32Exports {
  stripes(state: number, src: number, stripes: number): void;
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function read32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

/** Reference stripe loop (plain TS); the kernel test holds the WebAssembly one to it. */
export function xxh32StripesReference(lanes: Uint32Array, data: Uint8Array, stripes: number): void {
  let v1 = lanes[0]!, v2 = lanes[1]!, v3 = lanes[2]!, v4 = lanes[3]!;
  for (let s = 0, p = 0; s < stripes; s++, p += 16) {
    v1 = Math.imul(rotl((v1 + Math.imul(read32(data, p), P2)) | 0, 13), P1);
    v2 = Math.imul(rotl((v2 + Math.imul(read32(data, p + 4), P2)) | 0, 13), P1);
    v3 = Math.imul(rotl((v3 + Math.imul(read32(data, p + 8), P2)) | 0, 13), P1);
    v4 = Math.imul(rotl((v4 + Math.imul(read32(data, p + 12), P2)) | 0, 13), P1);
  }
  lanes[0] = v1; lanes[1] = v2; lanes[2] = v3; lanes[3] = v4;
}

// Below this many stripes the copy into WebAssembly memory costs more than it saves.
const WASM_MIN_STRIPES = 64;
// Copy through a bounded window so hashing a huge buffer does not grow kernel memory with it.
const WASM_WINDOW = 1 << 20;

function advanceStripes(lanes: Uint32Array, data: Uint8Array, stripes: number): void {
  const k = stripes >= WASM_MIN_STRIPES ? wasmKernel<Xxh32Exports>('xxh32', xxh32Wasm.base64) : null;
  if (!k) return xxh32StripesReference(lanes, data, stripes);
  const base = k.reserve(16 + WASM_WINDOW);
  const mem = new Uint32Array(k.memory.buffer, base, 4);
  mem.set(lanes);
  for (let s = 0; s < stripes; ) {
    const n = Math.min(stripes - s, WASM_WINDOW >>> 4);
    k.u8.set(data.subarray(s * 16, (s + n) * 16), base + 16);
    k.exports.stripes(base, base + 16, n);
    s += n;
  }
  lanes.set(new Uint32Array(k.memory.buffer, base, 4));
}

/** Streaming XXH32: `update` any number of times, then `digest`. */
export class Xxh32 {
  private readonly seed: number;
  private readonly lanes = new Uint32Array(4);
  private readonly buf = new Uint8Array(16);
  private bufLen = 0;
  private total = 0;

  constructor(seed = 0) {
    this.seed = seed >>> 0;
    this.lanes[0] = (this.seed + P1 + P2) >>> 0;
    this.lanes[1] = (this.seed + P2) >>> 0;
    this.lanes[2] = this.seed;
    this.lanes[3] = (this.seed - P1) >>> 0;
  }

  update(data: Uint8Array): this {
    this.total += data.length;
    let p = 0;
    if (this.bufLen > 0) {
      const take = Math.min(16 - this.bufLen, data.length);
      this.buf.set(data.subarray(0, take), this.bufLen);
      this.bufLen += take;
      p = take;
      if (this.bufLen < 16) return this;
      advanceStripes(this.lanes, this.buf, 1);
      this.bufLen = 0;
    }
    const stripes = (data.length - p) >>> 4;
    if (stripes > 0) {
      advanceStripes(this.lanes, data.subarray(p, p + stripes * 16), stripes);
      p += stripes * 16;
    }
    if (p < data.length) {
      this.buf.set(data.subarray(p), 0);
      this.bufLen = data.length - p;
    }
    return this;
  }

  /** The 32-bit hash of everything fed so far (the stream may continue afterwards). */
  digest(): number {
    let h: number;
    const [v1, v2, v3, v4] = this.lanes as unknown as [number, number, number, number];
    if (this.total >= 16) {
      h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
    } else {
      h = (this.seed + P5) | 0;
    }
    h = (h + this.total) | 0; // XXH32 adds the length modulo 2^32
    const b = this.buf;
    let p = 0;
    for (; p + 4 <= this.bufLen; p += 4) {
      h = Math.imul(rotl((h + Math.imul(read32(b, p), P3)) | 0, 17), P4);
    }
    for (; p < this.bufLen; p++) {
      h = Math.imul(rotl((h + Math.imul(b[p]!, P5)) | 0, 11), P1);
    }
    h ^= h >>> 15;
    h = Math.imul(h, P2);
    h ^= h >>> 13;
    h = Math.imul(h, P3);
    h ^= h >>> 16;
    return h >>> 0;
  }
}

/** XXH32 of one buffer. */
export function xxh32(data: Uint8Array, seed = 0): number {
  return new Xxh32(seed).update(data).digest();
}

/** Hex form used in JSON headers: 8 lowercase digits. */
export function checksumHex(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}
