/**
 * Inverted lists: per list, the codes of its vectors (codeSize bytes each) and their slots (the
 * index's internal row numbers). A flat index is one list. Lists grow by doubling; after a load
 * they are views into the file's bytes and are copied only when they grow (copy on write).
 */
import { ZipmlError } from '../../core/errors.js';

export class InvertedLists {
  readonly nlist: number;
  readonly codeSize: number;
  readonly codes: Uint8Array[];
  readonly slots: Int32Array[];
  readonly sizes: Int32Array;
  /** Lists whose arrays are views into someone else's memory (a loaded file). */
  private readonly borrowed: Uint8Array;

  constructor(nlist: number, codeSize: number) {
    this.nlist = nlist;
    this.codeSize = codeSize;
    this.codes = Array.from({ length: nlist }, () => new Uint8Array(0));
    this.slots = Array.from({ length: nlist }, () => new Int32Array(0));
    this.sizes = new Int32Array(nlist);
    this.borrowed = new Uint8Array(nlist);
  }

  get total(): number {
    let s = 0;
    for (let l = 0; l < this.nlist; l++) s += this.sizes[l]!;
    return s;
  }

  /** Bytes held for codes and slots (capacity, not only the used part). */
  get memoryBytes(): number {
    let s = 0;
    for (let l = 0; l < this.nlist; l++) s += this.codes[l]!.byteLength + this.slots[l]!.byteLength;
    return s;
  }

  /** Installs list l as views (used by index loading; no copy). */
  adopt(l: number, codes: Uint8Array, slots: Int32Array): void {
    if (codes.length !== slots.length * this.codeSize) throw new ZipmlError('E_CORRUPT', `list ${l}: ${codes.length} code bytes for ${slots.length} vectors of ${this.codeSize} bytes`);
    this.codes[l] = codes;
    this.slots[l] = slots;
    this.sizes[l] = slots.length;
    this.borrowed[l] = 1;
  }

  private reserve(l: number, need: number): void {
    const cap = this.slots[l]!.length;
    if (need <= cap && this.borrowed[l] === 0) return;
    const ncap = Math.max(need, this.borrowed[l] ? need : Math.max(16, cap * 2));
    const c = new Uint8Array(ncap * this.codeSize);
    c.set(this.codes[l]!.subarray(0, this.sizes[l]! * this.codeSize));
    const s = new Int32Array(ncap);
    s.set(this.slots[l]!.subarray(0, this.sizes[l]!));
    this.codes[l] = c;
    this.slots[l] = s;
    this.borrowed[l] = 0;
  }

  /** Appends one vector's code to list l. */
  append(l: number, code: Uint8Array, slot: number): void {
    const n = this.sizes[l]!;
    this.reserve(l, n + 1);
    this.codes[l]!.set(code, n * this.codeSize);
    this.slots[l]![n] = slot;
    this.sizes[l] = n + 1;
  }

  /** The used part of list l. */
  list(l: number): { codes: Uint8Array; slots: Int32Array; n: number } {
    const n = this.sizes[l]!;
    return { codes: this.codes[l]!.subarray(0, n * this.codeSize), slots: this.slots[l]!.subarray(0, n), n };
  }

  /** Drops entries whose slot maps to -1 in `remap` and renumbers the others. */
  compact(remap: Int32Array): void {
    const cs = this.codeSize;
    for (let l = 0; l < this.nlist; l++) {
      const n = this.sizes[l]!;
      const oc = this.codes[l]!, os = this.slots[l]!;
      let m = 0;
      for (let i = 0; i < n; i++) if (remap[os[i]!]! >= 0) m++;
      const c = new Uint8Array(m * cs), s = new Int32Array(m);
      let j = 0;
      for (let i = 0; i < n; i++) {
        const ns = remap[os[i]!]!;
        if (ns < 0) continue;
        c.set(oc.subarray(i * cs, (i + 1) * cs), j * cs);
        s[j++] = ns;
      }
      this.codes[l] = c;
      this.slots[l] = s;
      this.sizes[l] = m;
      this.borrowed[l] = 0;
    }
  }
}
