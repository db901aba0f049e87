/**
 * A minimal bounded protobuf wire-format reader over a ByteSource. It reads through a window of
 * the file, so large length-delimited fields (tensor bytes) are skipped without being read, and it
 * knows each field's absolute file offset. Varints are limited to 10 bytes, lengths must stay
 * inside the enclosing message, and callers bound the nesting depth.
 */
import { ZipmlError, throwIfAborted } from '../../core/errors.js';
import type { ByteSource } from '../layout.js';
import { decodeUtf8, readExact } from './common.js';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

const WINDOW = 1 << 20;

export class ProtoReader {
  /** Absolute file offset of the next byte. */
  pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  constructor(readonly src: ByteSource, readonly what: string, private readonly signal?: AbortSignal) {}

  /** Makes `n` bytes from pos available in the window (n <= the window size, or the file's rest). */
  private async ensure(n: number, limit: number): Promise<void> {
    if (this.pos + n <= this.bufStart + this.buf.length) return;
    if (this.pos + n > limit) throw new ZipmlError('E_TRUNCATED', `${this.what}: field runs past the end of its message (at ${limit})`, { offset: this.pos });
    const len = Math.min(Math.max(n, WINDOW), this.src.size - this.pos);
    throwIfAborted(this.signal, this.what);
    this.buf = await readExact(this.src, this.pos, len, this.what);
    this.bufStart = this.pos;
  }

  /** A varint as a number; values above 2^53 give E_LIMIT (no field we use needs them). */
  async varint(limit: number): Promise<number> {
    await this.ensure(Math.min(10, limit - this.pos), limit);
    let v = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= limit) throw new ZipmlError('E_TRUNCATED', `${this.what}: varint runs past the end of its message`, { offset: this.pos });
      const b = this.buf[this.pos - this.bufStart]!;
      this.pos++;
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) {
        if (v > Number.MAX_SAFE_INTEGER) throw new ZipmlError('E_LIMIT', `${this.what}: varint ${v} exceeds 2^53`, { offset: this.pos - i - 1 });
        return v;
      }
    }
    throw new ZipmlError('E_CORRUPT', `${this.what}: varint longer than 10 bytes`, { offset: this.pos - 10 });
  }

  /** A varint read as a signed 64-bit two's-complement value (int64/int32 fields), bounded to ±2^53. */
  async svarint(limit: number): Promise<number> {
    const start = this.pos;
    await this.ensure(Math.min(10, limit - this.pos), limit);
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= limit) throw new ZipmlError('E_TRUNCATED', `${this.what}: varint runs past the end of its message`, { offset: this.pos });
      const b = this.buf[this.pos - this.bufStart]!;
      this.pos++;
      v |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) {
        const s = BigInt.asIntN(64, v);
        if (s > BigInt(Number.MAX_SAFE_INTEGER) || s < -BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipmlError('E_LIMIT', `${this.what}: integer ${s} exceeds 2^53`, { offset: start });
        return Number(s);
      }
    }
    throw new ZipmlError('E_CORRUPT', `${this.what}: varint longer than 10 bytes`, { offset: start });
  }

  /** Steps over a varint of any value (negative int64s take 10 bytes). */
  private async svarintSkip(limit: number): Promise<void> {
    const start = this.pos;
    await this.ensure(Math.min(10, limit - this.pos), limit);
    for (let i = 0; i < 10; i++) {
      if (this.pos >= limit) throw new ZipmlError('E_TRUNCATED', `${this.what}: varint runs past the end of its message`, { offset: this.pos });
      if (this.buf[this.pos++ - this.bufStart]! < 0x80) return;
    }
    throw new ZipmlError('E_CORRUPT', `${this.what}: varint longer than 10 bytes`, { offset: start });
  }

  /** Reads a tag; returns [field number, wire type]. */
  async tag(limit: number): Promise<[number, number]> {
    const at = this.pos;
    const t = await this.varint(limit);
    const field = Math.floor(t / 8), wire = t % 8;
    if (field === 0 || field > 536870911) throw new ZipmlError('E_CORRUPT', `${this.what}: invalid field number ${field}`, { offset: at });
    return [field, wire];
  }

  /** The length of a length-delimited field, checked against the enclosing limit. */
  async length(limit: number): Promise<number> {
    const at = this.pos;
    const n = await this.varint(limit);
    if (n > limit - this.pos) throw new ZipmlError('E_TRUNCATED', `${this.what}: length ${n} runs past the end of its message (at ${limit})`, { offset: at });
    return n;
  }

  async bytes(n: number, limit: number): Promise<Uint8Array> {
    if (n > WINDOW) {
      const b = await readExact(this.src, this.pos, n, this.what, this.signal);
      this.pos += n;
      return b;
    }
    await this.ensure(n, limit);
    const b = this.buf.subarray(this.pos - this.bufStart, this.pos - this.bufStart + n);
    this.pos += n;
    return b;
  }

  /** A length-delimited UTF-8 string of at most `max` bytes. */
  async string(limit: number, max: number, field: string): Promise<string> {
    const at = this.pos;
    const n = await this.length(limit);
    if (n > max) throw new ZipmlError('E_LIMIT', `${this.what}: ${field} of ${n} bytes exceeds ${max}`, { offset: at });
    return decodeUtf8(await this.bytes(n, limit), `${this.what}: ${field}`, at);
  }

  /** Skips a field's value of the given wire type. */
  async skip(wire: number, limit: number): Promise<void> {
    const at = this.pos;
    let n: number;
    switch (wire) {
      case WIRE_VARINT:
        await this.svarintSkip(limit);
        return;
      case WIRE_I64: n = 8; break;
      case WIRE_I32: n = 4; break;
      case WIRE_LEN: n = await this.length(limit); break;
      default: throw new ZipmlError('E_CORRUPT', `${this.what}: wire type ${wire} is not supported (groups are deprecated)`, { offset: at });
    }
    if (n > limit - this.pos) throw new ZipmlError('E_TRUNCATED', `${this.what}: field runs past the end of its message`, { offset: at });
    this.pos += n;
  }
}
