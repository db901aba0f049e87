/**
 * Packing and unpacking files on disk (Node only): sources are read through a ByteSource in
 * pieces, the packed file goes through the container's atomic streaming writer, and the unpacked
 * file through an atomic streaming sink, so memory stays constant for multi-GB models and a
 * failure (corrupt input, abort, full disk) leaves no output file behind.
 */
import { ZipmlError } from '../../core/errors.js';
import { ContainerFile, ContainerFileWriter } from '../../core/container-file.js';
import { fileSource, bufferSource as bufferSourceOf, type ByteSource } from '../layout.js';
import { packModel, packSmallest, type PackOptions, type PackResult } from './pack.js';
import { unpackTo, unpackBytes, memoryPackedReader, type PackedReader, type UnpackOptions } from './unpack.js';
import { compactPackedReader, isCompactPacked, COMPACT_MAX_SOURCE } from './compact.js';
import type { PackMeta } from './format.js';
import { packSafetensorsBytes, unpackSafetensorsBytes } from './safetensors-out.js';
import { writeFileAtomic } from '../../core/atomic-file.js';
import { CONTAINER_MAGIC } from '../../core/container.js';

/** Packed file formats: the zipml container (streaming, smallest) or safetensors-compatible (in memory). */
export type PackedFormat = 'container' | 'safetensors';

/** A packed file on disk as a PackedReader. */
export async function filePackedReader(path: string): Promise<PackedReader & { close(): Promise<void> }> {
  const compact = await withSource(path, async (s) => (isCompactPacked(await s.read(0, Math.min(s.size, 4))) ? readCompact(s) : undefined));
  if (compact) return { ...compactPackedReader(compact), close: async () => undefined };
  const f = await ContainerFile.open(path);
  try {
    const chunks = f.info('chunks');
    return {
      kind: f.kind,
      meta: f.header.meta,
      section: (name) => f.readSection(name),
      chunksLength: chunks.length,
      readChunks: (offset, length) => f.readSectionRange('chunks', offset, length),
      close: () => f.close(),
    };
  } catch (e) {
    await f.close();
    throw e;
  }
}

/** Writes a file through `<target>.tmp-<random>`, renamed over the target only on finish(). */
export class AtomicFileSink {
  private pos = 0;
  private constructor(
    readonly target: string,
    private readonly tmp: string,
    private readonly fh: import('node:fs/promises').FileHandle,
    private readonly fs: typeof import('node:fs/promises'),
  ) {}

  static async create(target: string, overwrite = false): Promise<AtomicFileSink> {
    const [fs, crypto] = await Promise.all([import('node:fs/promises'), import('node:crypto')]);
    if (!overwrite && (await fs.stat(target).then(() => true, () => false))) {
      throw new ZipmlError('E_ARG', `${target} exists; pass overwrite (--force) to replace it`);
    }
    const tmp = `${target}.tmp-${crypto.randomBytes(6).toString('hex')}`;
    try {
      return new AtomicFileSink(target, tmp, await fs.open(tmp, 'wx'), fs);
    } catch (e) {
      throw new ZipmlError('E_IO', `cannot create ${tmp}: ${(e as Error).message}`, { cause: e });
    }
  }

  async write(data: Uint8Array): Promise<void> {
    try {
      for (let done = 0; done < data.length; ) {
        const { bytesWritten } = await this.fh.write(data, done, data.length - done, this.pos + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw new ZipmlError('E_IO', `cannot write ${this.tmp}: ${(e as Error).message}`, { cause: e });
    }
    this.pos += data.length;
  }

  async finish(): Promise<void> {
    try {
      await this.fh.sync();
      await this.fh.close();
      await this.fs.rename(this.tmp, this.target);
    } catch (e) {
      await this.abort();
      throw new ZipmlError('E_IO', `cannot finish ${this.target}: ${(e as Error).message}`, { cause: e });
    }
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await this.fs.rm(this.tmp, { force: true }).catch(() => undefined);
  }
}

export interface FileOptions {
  /** Replace an existing output file (default false: refuse with E_ARG). */
  overwrite?: boolean;
}

async function withSource<T>(path: string, f: (src: ByteSource) => Promise<T>): Promise<T> {
  const src = await fileSource(path);
  try {
    return await f(src);
  } finally {
    await src.close();
  }
}

/**
 * Sidecar files (ncnn .param, TFJS model.json, ONNX external data) are looked up beside `path`;
 * `close` closes every one that was opened.
 */
async function sidecarOf(path: string): Promise<{ open: (name: string) => Promise<ByteSource | undefined>; close: () => Promise<void> }> {
  const { dirname, join } = await import('node:path');
  const opened: Array<{ close(): Promise<void> }> = [];
  return {
    open: async (name) => {
      if (name.includes('..') || name.startsWith('/')) return undefined;
      const s = await fileSource(join(dirname(path), name)).catch(() => undefined);
      if (s) opened.push(s);
      return s;
    },
    close: async () => {
      await Promise.all(opened.map((s) => s.close().catch(() => undefined)));
    },
  };
}

/** A compact packed file (only ever written for sources up to 1 MiB), read whole; bounded. */
async function readCompact(src: ByteSource): Promise<Uint8Array> {
  if (src.size > 64 << 20) throw new ZipmlError('E_LIMIT', `compact packed file of ${src.size} bytes is larger than any the packer writes`);
  return src.read(0, src.size);
}

async function readAll(src: ByteSource): Promise<Uint8Array> {
  if (src.size > 2 ** 31) throw new ZipmlError('E_LIMIT', `the safetensors-compatible format is built in memory; ${src.size} bytes is too large (use the container)`);
  return src.read(0, src.size);
}

/** Packs the model file `input` into `output` (the container by default; see PackedFormat). */
export async function packFile(input: string, output: string, opts: PackOptions & FileOptions & { basePath?: string; format?: PackedFormat } = {}): Promise<PackResult | { format: 'safetensors'; bytes: number }> {
  const { basename } = await import('node:path');
  if (opts.format === 'safetensors') {
    if (opts.basePath) throw new ZipmlError('E_ARG', 'checkpoint deltas (--base) need the container format');
    const side = await sidecarOf(input);
    const packed = await withSource(input, async (src) => packSafetensorsBytes(await readAll(src), { ...opts, name: opts.name ?? basename(input), sidecar: opts.sidecar ?? side.open })).finally(side.close);
    await writeFileAtomic(output, packed, { overwrite: opts.overwrite });
    return { format: 'safetensors', bytes: packed.length };
  }
  return withSource(input, async (src) => {
    if (src.size <= COMPACT_MAX_SOURCE && !opts.basePath) {
      // Small: packed in memory, then the smaller of the container and the compact form.
      const side = await sidecarOf(input);
      const { bytes, result } = await packSmallest(src, { ...opts, name: opts.name ?? basename(input), sidecar: opts.sidecar ?? side.open }).finally(side.close);
      await writeFileAtomic(output, bytes, { overwrite: opts.overwrite });
      return result;
    }
    const run = async (base?: ByteSource): Promise<PackResult> => {
      const w = await ContainerFileWriter.create(output, { overwrite: opts.overwrite });
      const side = await sidecarOf(input);
      try {
        return await packModel(src, w, {
          ...opts,
          name: opts.name ?? basename(input),
          sidecar: opts.sidecar ?? side.open,
          ...(base ? { base: { source: base, name: basename(opts.basePath!) } } : {}),
        });
      } catch (e) {
        await w.abort();
        throw e;
      } finally {
        await side.close();
      }
    };
    return opts.basePath ? withSource(opts.basePath, run) : run();
  });
}

/** Unpacks `input` (either packed format) to `output`, byte for byte the original file. */
export async function unpackFile(input: string, output: string, opts: UnpackOptions & FileOptions & { basePath?: string } = {}): Promise<{ source: PackMeta['source'] }> {
  const head = await withSource(input, (s) => s.read(0, Math.min(s.size, 8)));
  if (isCompactPacked(head)) {
    const packed = await withSource(input, readCompact);
    const base = opts.basePath ? await withSource(opts.basePath, readAll) : undefined;
    const meta = (memoryPackedReader(packed).meta as unknown as Pick<PackMeta, 'source'>);
    const bytes = await unpackBytes(packed, { ...opts, ...(base ? { base: bufferSourceOf(base) } : {}) });
    await writeFileAtomic(output, bytes, { overwrite: opts.overwrite });
    return { source: meta.source };
  }
  if (!(head.length === 8 && CONTAINER_MAGIC.every((b, i) => head[i] === b))) {
    const packed = await withSource(input, readAll);
    const bytes = await unpackSafetensorsBytes(packed, { ...opts, maxOutputSize: opts.maxOutputSize ?? 2 ** 31 });
    await writeFileAtomic(output, bytes, { overwrite: opts.overwrite });
    const { readSafetensorsLayout } = await import('../formats/safetensors.js');
    const m = JSON.parse((await readSafetensorsLayout(bufferSourceOf(packed))).metadata.zipml!) as { source: PackMeta['source'] };
    return { source: m.source };
  }
  const r = await filePackedReader(input);
  try {
    const run = async (base?: ByteSource): Promise<PackMeta> => {
      const sink = await AtomicFileSink.create(output, opts.overwrite);
      try {
        const meta = await unpackTo(r, (b) => sink.write(b), { ...opts, ...(base ? { base } : {}) });
        await sink.finish();
        return meta;
      } catch (e) {
        await sink.abort();
        throw e;
      }
    };
    return opts.basePath ? await withSource(opts.basePath, run) : await run();
  } finally {
    await r.close();
  }
}
