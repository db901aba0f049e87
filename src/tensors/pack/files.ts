/**
 * Packing and unpacking files on disk (Node only): sources are read through a ByteSource in
 * pieces, the packed file goes through the container's atomic streaming writer, and the unpacked
 * file through an atomic streaming sink, so memory stays constant for multi-GB models and a
 * failure (corrupt input, abort, full disk) leaves no output file behind.
 */
import { ZipmlError } from '../../core/errors.js';
import { ContainerFile, ContainerFileWriter } from '../../core/container-file.js';
import { fileSource, type ByteSource } from '../layout.js';
import { packModel, type PackOptions, type PackResult } from './pack.js';
import { unpackTo, type PackedReader, type UnpackOptions } from './unpack.js';
import type { PackMeta } from './format.js';

/** A packed file on disk as a PackedReader. */
export async function filePackedReader(path: string): Promise<PackedReader & { close(): Promise<void> }> {
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

/** Sidecar files (ncnn .param, TFJS model.json, ONNX external data) are looked up beside `path`. */
async function sidecarOf(path: string): Promise<(name: string) => Promise<ByteSource | undefined>> {
  const { dirname, join } = await import('node:path');
  return async (name) => {
    if (name.includes('..') || name.startsWith('/')) return undefined;
    return fileSource(join(dirname(path), name)).catch(() => undefined);
  };
}

/** Packs the model file `input` into the packed container `output`. */
export async function packFile(input: string, output: string, opts: PackOptions & FileOptions & { basePath?: string } = {}): Promise<PackResult> {
  const { basename } = await import('node:path');
  return withSource(input, async (src) => {
    const run = async (base?: ByteSource): Promise<PackResult> => {
      const w = await ContainerFileWriter.create(output, { overwrite: opts.overwrite });
      try {
        return await packModel(src, w, {
          ...opts,
          name: opts.name ?? basename(input),
          sidecar: opts.sidecar ?? (await sidecarOf(input)),
          ...(base ? { base: { source: base, name: basename(opts.basePath!) } } : {}),
        });
      } catch (e) {
        await w.abort();
        throw e;
      }
    };
    return opts.basePath ? withSource(opts.basePath, run) : run();
  });
}

/** Unpacks `input` (a packed container) to `output`, byte for byte the original file. */
export async function unpackFile(input: string, output: string, opts: UnpackOptions & FileOptions & { basePath?: string } = {}): Promise<PackMeta> {
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
