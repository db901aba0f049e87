/**
 * Bounded random-access reading of a FlatBuffer (google/flatbuffers, "FlatBuffers internals") over
 * a ByteSource: a small page cache, tables found through their vtables, vectors and strings, every
 * offset checked to stay inside the file before it is followed. Only what TFLite needs.
 */
import { ZipmlError } from '../../core/errors.js';
import { PagedReader, decodeUtf8 } from './common.js';

/** Largest vtable we accept (a table with 1,000 fields needs 2,004 bytes). */
const MAX_VTABLE = 4096;

export class FlatReader extends PagedReader {
  /** The table that a u32 offset at `at` points to (root, vector element or field). */
  async tableAt(at: number, field: string): Promise<Table> {
    const t = at + (await this.u32(at, field));
    if (t > this.src.size - 4) throw new ZipmlError('E_CORRUPT', `${this.what}: ${field} points to ${t}, outside the file`, { offset: at });
    const vt = t - (await this.i32(t, `${field} vtable offset`));
    const vlen = await this.u16(vt, `${field} vtable`);
    if (vlen < 4 || vlen % 2 !== 0 || vlen > MAX_VTABLE) throw new ZipmlError('E_CORRUPT', `${this.what}: ${field} has a vtable of ${vlen} bytes`, { offset: vt });
    const tlen = await this.u16(vt + 2, `${field} vtable`);
    const slots = await this.bytes(vt + 4, vlen - 4, `${field} vtable`);
    const fields: number[] = [];
    for (let i = 0; i + 1 < slots.length; i += 2) {
      const o = slots[i]! | (slots[i + 1]! << 8);
      if (o !== 0 && o + 1 > tlen) throw new ZipmlError('E_CORRUPT', `${this.what}: ${field} field ${i / 2} at ${o} is outside its ${tlen}-byte table`, { offset: vt });
      fields.push(o);
    }
    if (t + tlen > this.src.size) throw new ZipmlError('E_TRUNCATED', `${this.what}: ${field} table runs past the end of the file`, { offset: t });
    return new Table(this, t, fields, field);
  }
}

export class Table {
  constructor(readonly r: FlatReader, readonly at: number, private readonly fields: number[], readonly what: string) {}
  /** Absolute position of field `i`, or undefined when absent. */
  pos(i: number): number | undefined {
    const o = this.fields[i];
    return o ? this.at + o : undefined;
  }
  async u8(i: number, dflt: number): Promise<number> {
    const p = this.pos(i);
    return p === undefined ? dflt : this.r.u8(p, `${this.what}.${i}`);
  }
  async u32(i: number, dflt: number): Promise<number> {
    const p = this.pos(i);
    return p === undefined ? dflt : this.r.u32(p, `${this.what}.${i}`);
  }
  async u64(i: number, dflt: number): Promise<number> {
    const p = this.pos(i);
    return p === undefined ? dflt : this.r.u64(p, `${this.what}.${i}`);
  }
  async table(i: number): Promise<Table | undefined> {
    const p = this.pos(i);
    return p === undefined ? undefined : this.r.tableAt(p, `${this.what}.${i}`);
  }
  /** A vector field: [position of the first element, length], bounded by `max` elements of `elemSize`. */
  async vector(i: number, elemSize: number, max: number): Promise<[number, number] | undefined> {
    const p = this.pos(i);
    if (p === undefined) return undefined;
    const v = p + (await this.r.u32(p, `${this.what}.${i}`));
    const n = await this.r.u32(v, `${this.what}.${i} length`);
    if (n > max) throw new ZipmlError('E_LIMIT', `${this.r.what}: ${this.what}.${i} has ${n} elements, more than ${max}`, { offset: v });
    if (v + 4 + n * elemSize > this.r.src.size) throw new ZipmlError('E_TRUNCATED', `${this.r.what}: ${this.what}.${i} (${n} x ${elemSize} bytes) runs past the end of the file`, { offset: v });
    return [v + 4, n];
  }
  async string(i: number, max: number): Promise<string | undefined> {
    const v = await this.vector(i, 1, max);
    return v && decodeUtf8(await this.r.bytes(v[0], v[1], `${this.what}.${i}`), `${this.r.what}: ${this.what}.${i}`, v[0]);
  }
}
