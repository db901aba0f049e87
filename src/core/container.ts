/**
 * The zipml container: named, aligned, checksummed sections and a JSON header, laid out as
 * docs/formats.md §1 specifies. This file holds the layout rules shared by both directions and the
 * in-memory reader and builder; container-file.ts streams the same layout to and from disk.
 */
import { ZipmlError } from './errors.js';
import { Xxh32, xxh32, checksumHex } from './checksum.js';

export const CONTAINER_MAGIC = new Uint8Array([0x89, 0x5a, 0x49, 0x50, 0x4d, 0x4c, 0x0d, 0x0a]);
export const CONTAINER_END_MAGIC = new Uint8Array([0x5a, 0x4d, 0x4c, 0x45, 0x4e, 0x44, 0x0d, 0x0a]);
export const CONTAINER_MAJOR = 1;
export const CONTAINER_MINOR = 0;
export const PREAMBLE_BYTES = 16;
export const FOOTER_BYTES = 32;
export const SECTION_ALIGN = 64;
export const MAX_HEADER_BYTES = 64 * 1024 * 1024;
export const MAX_SECTIONS = 1 << 20;
export const MAX_JSON_DEPTH = 64;
export const MAX_NAME_BYTES = 255;
export const MAX_KIND_BYTES = 128;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
export type JsonObject = { [k: string]: JsonValue };

export interface SectionInfo {
  name: string;
  offset: number;
  length: number;
  xxh32: number;
  meta: JsonObject;
}

export interface ContainerHeader {
  kind: string;
  meta: JsonObject;
  sections: SectionInfo[];
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Strict UTF-8 decoding of any view. Browsers' TextDecoder refuses views of shared memory (a
 * container loaded from a SharedArrayBuffer in a worker), so those are copied first.
 */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  const shared = typeof SharedArrayBuffer === 'function' && bytes.buffer instanceof SharedArrayBuffer;
  return utf8Strict.decode(shared ? bytes.slice() : bytes);
}

export function alignUp(n: number, a = SECTION_ALIGN): number {
  return Math.ceil(n / a) * a;
}

export function encodePreamble(): Uint8Array {
  const p = new Uint8Array(PREAMBLE_BYTES);
  p.set(CONTAINER_MAGIC, 0);
  const dv = new DataView(p.buffer);
  dv.setUint16(8, CONTAINER_MAJOR, true);
  dv.setUint16(10, CONTAINER_MINOR, true);
  dv.setUint32(12, 0, true);
  return p;
}

export function checkPreamble(p: Uint8Array): void {
  if (p.length < PREAMBLE_BYTES) throw new ZipmlError('E_TRUNCATED', 'container shorter than its 16-byte preamble', { offset: 0 });
  for (let i = 0; i < 8; i++) {
    if (p[i] !== CONTAINER_MAGIC[i]) throw new ZipmlError('E_FORMAT', 'not a zipml container: bad magic', { offset: i });
  }
  const dv = new DataView(p.buffer, p.byteOffset, PREAMBLE_BYTES);
  const major = dv.getUint16(8, true);
  if (major !== CONTAINER_MAJOR) {
    throw new ZipmlError('E_FORMAT', `container major version ${major} is not supported (this reader knows ${CONTAINER_MAJOR})`, { offset: 8 });
  }
  const flags = dv.getUint32(12, true);
  if (flags !== 0) throw new ZipmlError('E_FORMAT', `container flags 0x${flags.toString(16)} are not supported`, { offset: 12 });
}

export function encodeFooter(headerOffset: number, header: Uint8Array): Uint8Array {
  const f = new Uint8Array(FOOTER_BYTES);
  const dv = new DataView(f.buffer);
  dv.setBigUint64(0, BigInt(headerOffset), true);
  dv.setUint32(8, header.length, true);
  dv.setUint32(12, xxh32(header), true);
  dv.setUint32(16, 0, true);
  dv.setUint32(20, xxh32(f.subarray(0, 20)), true);
  f.set(CONTAINER_END_MAGIC, 24);
  return f;
}

/** Validates the footer against the file size; returns where the header is. */
export function decodeFooter(f: Uint8Array, fileSize: number): { headerOffset: number; headerLength: number; headerChecksum: number } {
  const at = fileSize - FOOTER_BYTES;
  if (f.length !== FOOTER_BYTES) throw new ZipmlError('E_TRUNCATED', 'container footer is incomplete', { offset: at });
  for (let i = 0; i < 8; i++) {
    if (f[24 + i] !== CONTAINER_END_MAGIC[i]) {
      throw new ZipmlError('E_TRUNCATED', 'container end magic missing: file truncated or not finished', { offset: at + 24 + i });
    }
  }
  const dv = new DataView(f.buffer, f.byteOffset, FOOTER_BYTES);
  if (dv.getUint32(20, true) !== xxh32(f.subarray(0, 20))) {
    throw new ZipmlError('E_CORRUPT', 'container footer checksum mismatch', { offset: at });
  }
  const off64 = dv.getBigUint64(0, true);
  const headerLength = dv.getUint32(8, true);
  if (off64 > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipmlError('E_LIMIT', 'header offset exceeds 2^53-1', { offset: at });
  const headerOffset = Number(off64);
  if (dv.getUint32(16, true) !== 0) throw new ZipmlError('E_FORMAT', 'container footer reserved field is not zero', { offset: at + 16 });
  if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
    throw new ZipmlError('E_LIMIT', `container header length ${headerLength} is outside 2..${MAX_HEADER_BYTES}`, { offset: at + 8 });
  }
  if (headerOffset < PREAMBLE_BYTES || headerOffset + headerLength !== at) {
    throw new ZipmlError('E_CORRUPT', `container header at ${headerOffset}+${headerLength} does not end at the footer (${at})`, { offset: at });
  }
  return { headerOffset, headerLength, headerChecksum: dv.getUint32(12, true) };
}

/** Rejects JSON nested deeper than `max` without recursing (so hostile input cannot blow the stack). */
export function checkJsonDepth(bytes: Uint8Array, max: number, baseOffset: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === 0x5c) i++; // skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) throw new ZipmlError('E_LIMIT', `container header JSON nests deeper than ${max}`, { offset: baseOffset + i });
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isSafeNonNeg(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses and validates the header bytes (already checksum-verified) against the layout rules. */
export function decodeHeader(bytes: Uint8Array, headerOffset: number): ContainerHeader {
  checkJsonDepth(bytes, MAX_JSON_DEPTH, headerOffset);
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeUtf8Strict(bytes));
  } catch (e) {
    throw new ZipmlError('E_CORRUPT', `container header is not valid UTF-8 JSON: ${(e as Error).message}`, { offset: headerOffset, cause: e });
  }
  const where = (s: string) => `container header: ${s}`;
  if (!isObject(parsed)) throw new ZipmlError('E_CORRUPT', where('not a JSON object'), { offset: headerOffset });
  if (parsed.zipml !== CONTAINER_MAJOR) throw new ZipmlError('E_FORMAT', where(`"zipml" is ${JSON.stringify(parsed.zipml)}, expected ${CONTAINER_MAJOR}`), { offset: headerOffset });
  const kind = parsed.kind;
  if (typeof kind !== 'string' || kind.length === 0 || utf8.encode(kind).length > MAX_KIND_BYTES) {
    throw new ZipmlError('E_CORRUPT', where(`"kind" must be a string of 1..${MAX_KIND_BYTES} bytes`), { offset: headerOffset });
  }
  const meta = parsed.meta === undefined ? {} : parsed.meta;
  if (!isObject(meta)) throw new ZipmlError('E_CORRUPT', where('"meta" must be an object'), { offset: headerOffset });
  const list = parsed.sections;
  if (!Array.isArray(list)) throw new ZipmlError('E_CORRUPT', where('"sections" must be an array'), { offset: headerOffset });
  if (list.length > MAX_SECTIONS) throw new ZipmlError('E_LIMIT', where(`${list.length} sections exceed the limit of ${MAX_SECTIONS}`), { offset: headerOffset });
  const names = new Set<string>();
  const sections: SectionInfo[] = [];
  let prevEnd = PREAMBLE_BYTES;
  for (let i = 0; i < list.length; i++) {
    const s: unknown = list[i];
    const at = (msg: string) => where(`section ${i}: ${msg}`);
    if (!isObject(s)) throw new ZipmlError('E_CORRUPT', at('not an object'), { offset: headerOffset });
    const { name, offset, length, xxh32: sum } = s;
    if (typeof name !== 'string' || name.length === 0 || utf8.encode(name).length > MAX_NAME_BYTES) {
      throw new ZipmlError('E_CORRUPT', at(`name must be a string of 1..${MAX_NAME_BYTES} bytes`), { offset: headerOffset });
    }
    if (names.has(name)) throw new ZipmlError('E_CORRUPT', at(`duplicate name "${name}"`), { offset: headerOffset });
    names.add(name);
    if (!isSafeNonNeg(offset) || offset % SECTION_ALIGN !== 0) {
      throw new ZipmlError('E_CORRUPT', at(`"${name}" offset ${String(offset)} is not a non-negative multiple of ${SECTION_ALIGN}`), { offset: headerOffset });
    }
    if (!isSafeNonNeg(length)) throw new ZipmlError('E_CORRUPT', at(`"${name}" length ${String(length)} is not a non-negative integer`), { offset: headerOffset });
    if (offset < prevEnd) throw new ZipmlError('E_CORRUPT', at(`"${name}" at ${offset} overlaps the previous section or the preamble (ends at ${prevEnd})`), { offset: headerOffset });
    if (offset + length > headerOffset) {
      throw new ZipmlError('E_CORRUPT', at(`"${name}" (${offset}+${length}) runs past the header at ${headerOffset}`), { offset: headerOffset });
    }
    if (typeof sum !== 'string' || !/^[0-9a-f]{8}$/.test(sum)) throw new ZipmlError('E_CORRUPT', at(`"${name}" xxh32 must be 8 lowercase hex digits`), { offset: headerOffset });
    const smeta = s.meta === undefined ? {} : s.meta;
    if (!isObject(smeta)) throw new ZipmlError('E_CORRUPT', at(`"${name}" meta must be an object`), { offset: headerOffset });
    sections.push({ name, offset, length, xxh32: parseInt(sum, 16), meta: smeta });
    prevEnd = offset + length;
  }
  return { kind, meta, sections };
}

export function encodeHeader(kind: string, meta: JsonObject, sections: SectionInfo[]): Uint8Array {
  if (kind.length === 0 || utf8.encode(kind).length > MAX_KIND_BYTES) throw new ZipmlError('E_ARG', `container kind must be 1..${MAX_KIND_BYTES} bytes`);
  const json = {
    zipml: CONTAINER_MAJOR,
    kind,
    meta,
    sections: sections.map((s) => ({ name: s.name, offset: s.offset, length: s.length, xxh32: checksumHex(s.xxh32), meta: s.meta })),
  };
  const bytes = utf8.encode(JSON.stringify(json));
  if (bytes.length > MAX_HEADER_BYTES) throw new ZipmlError('E_LIMIT', `container header of ${bytes.length} bytes exceeds ${MAX_HEADER_BYTES}`);
  return bytes;
}

export function checkSectionName(name: string, existing: Set<string>): void {
  if (name.length === 0 || utf8.encode(name).length > MAX_NAME_BYTES) throw new ZipmlError('E_ARG', `section name must be 1..${MAX_NAME_BYTES} bytes`);
  if (existing.has(name)) throw new ZipmlError('E_ARG', `section "${name}" was already added`);
  if (existing.size >= MAX_SECTIONS) throw new ZipmlError('E_LIMIT', `a container holds at most ${MAX_SECTIONS} sections`);
}

/** A parsed in-memory container. Section views share the input's memory (no copy). */
export class Container {
  readonly kind: string;
  readonly meta: JsonObject;
  readonly sections: readonly SectionInfo[];
  private readonly bytes: Uint8Array;
  private readonly byName: Map<string, SectionInfo>;
  private readonly verified = new Set<string>();

  constructor(bytes: Uint8Array, header: ContainerHeader) {
    this.bytes = bytes;
    this.kind = header.kind;
    this.meta = header.meta;
    this.sections = header.sections;
    this.byName = new Map(header.sections.map((s) => [s.name, s]));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  info(name: string): SectionInfo {
    const s = this.byName.get(name);
    if (!s) throw new ZipmlError('E_ARG', `container has no section "${name}"`);
    return s;
  }

  /** The section's bytes, checksum-verified on first access. A view into the input: no copy. */
  section(name: string): Uint8Array {
    const s = this.info(name);
    const view = this.bytes.subarray(s.offset, s.offset + s.length);
    if (!this.verified.has(name)) {
      if (xxh32(view) !== s.xxh32) throw new ZipmlError('E_CORRUPT', `section "${name}" checksum mismatch`, { offset: s.offset });
      this.verified.add(name);
    }
    return view;
  }
}

export interface ReadContainerOptions {
  /** Verify every section's checksum now (default true); otherwise on first access. */
  verify?: boolean;
}

/** Parses a whole container held in memory. */
export function readContainer(bytes: Uint8Array, opts: ReadContainerOptions = {}): Container {
  const size = bytes.length;
  if (size < PREAMBLE_BYTES + 2 + FOOTER_BYTES) {
    throw new ZipmlError('E_TRUNCATED', `container of ${size} bytes is shorter than the minimum ${PREAMBLE_BYTES + 2 + FOOTER_BYTES}`, { offset: 0 });
  }
  checkPreamble(bytes.subarray(0, PREAMBLE_BYTES));
  const { headerOffset, headerLength, headerChecksum } = decodeFooter(bytes.subarray(size - FOOTER_BYTES), size);
  const hb = bytes.subarray(headerOffset, headerOffset + headerLength);
  if (xxh32(hb) !== headerChecksum) throw new ZipmlError('E_CORRUPT', 'container header checksum mismatch', { offset: headerOffset });
  const c = new Container(bytes, decodeHeader(hb, headerOffset));
  if (opts.verify !== false) for (const s of c.sections) c.section(s.name);
  return c;
}

/** Builds a container in memory. For files larger than memory use ContainerFileWriter. */
export class ContainerBuilder {
  private readonly parts: Uint8Array[] = [];
  private readonly infos: SectionInfo[] = [];
  private readonly names = new Set<string>();
  private size = PREAMBLE_BYTES;

  addSection(name: string, data: Uint8Array, meta: JsonObject = {}): this {
    checkSectionName(name, this.names);
    const offset = alignUp(this.size);
    if (offset > this.size) this.parts.push(new Uint8Array(offset - this.size));
    this.parts.push(data);
    this.names.add(name);
    this.infos.push({ name, offset, length: data.length, xxh32: new Xxh32().update(data).digest(), meta });
    this.size = offset + data.length;
    return this;
  }

  finish(kind: string, meta: JsonObject = {}): Uint8Array {
    const headerOffset = alignUp(this.size);
    const header = encodeHeader(kind, meta, this.infos);
    const footer = encodeFooter(headerOffset, header);
    const out = new Uint8Array(headerOffset + header.length + FOOTER_BYTES);
    out.set(encodePreamble(), 0);
    let pos = PREAMBLE_BYTES;
    for (const p of this.parts) {
      out.set(p, pos);
      pos += p.length;
    }
    out.set(header, headerOffset);
    out.set(footer, headerOffset + header.length);
    return out;
  }
}
