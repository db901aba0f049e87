/**
 * The container on disk (Node only): a streaming, atomic writer and a reader that validates the
 * footer and header before it reads or allocates anything else. Node modules are imported lazily
 * so that importing zipml in a browser never touches them.
 */
import { ZipmlError } from './errors.js';
import { Xxh32, xxh32 } from './checksum.js';
import {
  type ContainerHeader, type JsonObject, type SectionInfo,
  PREAMBLE_BYTES, FOOTER_BYTES, alignUp, checkPreamble, checkSectionName, decodeFooter,
  decodeHeader, encodeFooter, encodeHeader, encodePreamble,
} from './container.js';

type FsPromises = typeof import('node:fs/promises');
type FileHandle = import('node:fs/promises').FileHandle;

async function nodeFs(): Promise<{ fs: FsPromises; path: typeof import('node:path'); crypto: typeof import('node:crypto') }> {
  try {
    const [fs, path, crypto] = await Promise.all([import('node:fs/promises'), import('node:path'), import('node:crypto')]);
    return { fs, path, crypto };
  } catch (e) {
    throw new ZipmlError('E_UNSUPPORTED', 'container files need Node.js file-system access; in a browser use readContainer on bytes', { cause: e });
  }
}

function ioError(what: string, file: string, e: unknown): ZipmlError {
  return new ZipmlError('E_IO', `${what} ${file}: ${(e as Error).message}`, { cause: e });
}

async function readExactly(fh: FileHandle, buf: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0) throw new ZipmlError('E_TRUNCATED', `${file} ended early`, { offset: position + done });
    done += bytesRead;
  }
}

export interface ContainerFileWriterOptions {
  /** Replace an existing file at the target path (default false: refuse with E_ARG). */
  overwrite?: boolean;
}

/**
 * Writes a container to `<target>.tmp-<random>`, then fsyncs and renames it over the target on
 * `finish()`, so readers see either the old file or the complete new one.
 */
export class ContainerFileWriter {
  private readonly infos: SectionInfo[] = [];
  private readonly names = new Set<string>();
  private pos = 0;
  private state: 'open' | 'done' | 'aborted' = 'open';

  private constructor(
    readonly target: string,
    private readonly tmp: string,
    private readonly fh: FileHandle,
    private readonly env: Awaited<ReturnType<typeof nodeFs>>,
  ) {}

  static async create(target: string, opts: ContainerFileWriterOptions = {}): Promise<ContainerFileWriter> {
    const env = await nodeFs();
    if (!opts.overwrite) {
      const exists = await env.fs.stat(target).then(() => true, () => false);
      if (exists) throw new ZipmlError('E_ARG', `${target} exists; pass overwrite to replace it`);
    }
    const tmp = `${target}.tmp-${env.crypto.randomBytes(6).toString('hex')}`;
    let fh: FileHandle;
    try {
      fh = await env.fs.open(tmp, 'wx');
    } catch (e) {
      throw ioError('cannot create', tmp, e);
    }
    const w = new ContainerFileWriter(target, tmp, fh, env);
    await w.write(encodePreamble());
    return w;
  }

  private async write(data: Uint8Array): Promise<void> {
    try {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await this.fh.write(data, done, data.length - done, this.pos + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw ioError('cannot write', this.tmp, e);
    }
    this.pos += data.length;
  }

  private async pad(): Promise<void> {
    const to = alignUp(this.pos);
    if (to > this.pos) await this.write(new Uint8Array(to - this.pos));
  }

  /** Appends a section from one buffer or from a stream of chunks (any size, constant memory). */
  async addSection(name: string, data: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>, meta: JsonObject = {}): Promise<SectionInfo> {
    if (this.state !== 'open') throw new ZipmlError('E_ARG', `container writer for ${this.target} is ${this.state}`);
    checkSectionName(name, this.names);
    this.names.add(name);
    await this.pad();
    const offset = this.pos;
    const h = new Xxh32();
    const chunks = data instanceof Uint8Array ? [data] : data;
    for await (const chunk of chunks) {
      h.update(chunk);
      await this.write(chunk);
    }
    const info: SectionInfo = { name, offset, length: this.pos - offset, xxh32: h.digest(), meta };
    this.infos.push(info);
    return info;
  }

  /** Writes header and footer, makes the file durable, and renames it over the target. */
  async finish(kind: string, meta: JsonObject = {}): Promise<void> {
    if (this.state !== 'open') throw new ZipmlError('E_ARG', `container writer for ${this.target} is ${this.state}`);
    try {
      await this.pad();
      const headerOffset = this.pos;
      const header = encodeHeader(kind, meta, this.infos);
      await this.write(header);
      await this.write(encodeFooter(headerOffset, header));
      await this.fh.sync();
      await this.fh.close();
      await this.env.fs.rename(this.tmp, this.target);
      this.state = 'done';
    } catch (e) {
      await this.abort();
      throw e instanceof ZipmlError ? e : ioError('cannot finish', this.target, e);
    }
    // Make the rename itself durable. Directories cannot be fsync'ed on every platform; ignore that.
    try {
      const dir = await this.env.fs.open(this.env.path.dirname(this.target), 'r');
      await dir.sync().catch(() => undefined);
      await dir.close();
    } catch {
      /* best effort */
    }
  }

  /** Discards the temporary file; the target is untouched. */
  async abort(): Promise<void> {
    if (this.state === 'done') return;
    this.state = 'aborted';
    await this.fh.close().catch(() => undefined);
    await this.env.fs.rm(this.tmp, { force: true }).catch(() => undefined);
  }
}

/** A container file opened for reading: header validated up front, sections read on demand. */
export class ContainerFile {
  private constructor(
    readonly path: string,
    readonly size: number,
    readonly header: ContainerHeader,
    private readonly fh: FileHandle,
  ) {}

  static async open(path: string): Promise<ContainerFile> {
    const { fs } = await nodeFs();
    let fh: FileHandle;
    try {
      fh = await fs.open(path, 'r');
    } catch (e) {
      throw ioError('cannot open', path, e);
    }
    try {
      const size = (await fh.stat()).size;
      if (size < PREAMBLE_BYTES + 2 + FOOTER_BYTES) {
        throw new ZipmlError('E_TRUNCATED', `${path}: ${size} bytes is shorter than the smallest container`, { offset: 0 });
      }
      const pre = new Uint8Array(PREAMBLE_BYTES);
      await readExactly(fh, pre, 0, path);
      checkPreamble(pre);
      const foot = new Uint8Array(FOOTER_BYTES);
      await readExactly(fh, foot, size - FOOTER_BYTES, path);
      const { headerOffset, headerLength, headerChecksum } = decodeFooter(foot, size);
      const hb = new Uint8Array(headerLength); // bounded by MAX_HEADER_BYTES in decodeFooter
      await readExactly(fh, hb, headerOffset, path);
      if (xxh32(hb) !== headerChecksum) throw new ZipmlError('E_CORRUPT', `${path}: container header checksum mismatch`, { offset: headerOffset });
      return new ContainerFile(path, size, decodeHeader(hb, headerOffset), fh);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  get kind(): string {
    return this.header.kind;
  }

  info(name: string): SectionInfo {
    const s = this.header.sections.find((x) => x.name === name);
    if (!s) throw new ZipmlError('E_ARG', `${this.path} has no section "${name}"`);
    return s;
  }

  /** Reads a whole section and verifies its checksum. */
  async readSection(name: string): Promise<Uint8Array> {
    const s = this.info(name);
    const buf = new Uint8Array(s.length);
    await readExactly(this.fh, buf, s.offset, this.path);
    if (xxh32(buf) !== s.xxh32) throw new ZipmlError('E_CORRUPT', `${this.path}: section "${name}" checksum mismatch`, { offset: s.offset });
    return buf;
  }

  /**
   * Reads `length` bytes at `start` within a section, for random access. Not checksum-verified
   * (a checksum covers the whole section); call verifySection once if the file is untrusted.
   */
  async readSectionRange(name: string, start: number, length: number): Promise<Uint8Array> {
    const s = this.info(name);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(length) || start < 0 || length < 0 || start + length > s.length) {
      throw new ZipmlError('E_ARG', `range ${start}+${length} is outside section "${name}" (${s.length} bytes)`);
    }
    const buf = new Uint8Array(length);
    await readExactly(this.fh, buf, s.offset + start, this.path);
    return buf;
  }

  /** Streams a section through its checksum in 1 MiB pieces (constant memory). */
  async verifySection(name: string): Promise<void> {
    const s = this.info(name);
    const h = new Xxh32();
    const buf = new Uint8Array(Math.min(s.length, 1 << 20));
    for (let done = 0; done < s.length; ) {
      const n = Math.min(buf.length, s.length - done);
      const view = buf.subarray(0, n);
      await readExactly(this.fh, view, s.offset + done, this.path);
      h.update(view);
      done += n;
    }
    if (h.digest() !== s.xxh32) throw new ZipmlError('E_CORRUPT', `${this.path}: section "${name}" checksum mismatch`, { offset: s.offset });
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
