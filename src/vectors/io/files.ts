/**
 * Node loaders over the byte parsers: read a file with its size checked against the limit first,
 * pick the parser from the extension (or `format`), and write files atomically. Node modules are
 * imported lazily so importing zipml in a browser never touches them.
 */
import { ZipmlError, writeFileAtomic } from '../../core/index.js';
import { type VectorData, maxBytesOf } from './common.js';
import { encodeBvecs, encodeFvecs, encodeIvecs, parseBvecs, parseFvecs, parseIvecs } from './vecs.js';
import { encodeNpy, parseNpy } from './npy.js';
import { parseIdx } from './idx.js';
import { type TextReadOptions, type TextVectors, encodeTextVectors, parseTextVectors } from './text.js';
import { encodeRawF32, parseRawF32 } from './raw.js';

export type VectorFileFormat = 'fvecs' | 'ivecs' | 'bvecs' | 'npy' | 'idx' | 'text' | 'raw-f32';

export interface VectorFileOptions extends TextReadOptions {
  /** Overrides the format the file name suggests. */
  format?: VectorFileFormat;
  /** Row size of a raw-f32 file (it has no header). */
  d?: number;
}

/** The format a file name suggests, or undefined. */
export function formatFromPath(path: string): VectorFileFormat | undefined {
  const name = path.toLowerCase().replace(/^.*[\\/]/, '');
  const m = /\.(fvecs|ivecs|bvecs|npy)$/.exec(name);
  if (m) return m[1] as VectorFileFormat;
  if (/-idx\d+-ubyte(\.gz)?$|\.idx\d?(\.gz)?$/.test(name)) return 'idx';
  if (/\.(txt|tsv)$/.test(name)) return 'text';
  if (/\.(vec|f32|fvec|raw)$/.test(name)) return 'raw-f32';
  return undefined;
}

/** The whole file, after checking its size against `maxBytes` (so a huge file is never read). */
export async function readFileBounded(path: string, maxBytes: number): Promise<Uint8Array> {
  const fs = await import('node:fs/promises');
  try {
    const fh = await fs.open(path, 'r');
    try {
      const { size } = await fh.stat();
      if (size > maxBytes) throw new ZipmlError('E_LIMIT', `${path}: ${size} bytes exceed the limit of ${maxBytes}`);
      const buf = new Uint8Array(size);
      for (let at = 0; at < size;) {
        const { bytesRead } = await fh.read(buf, at, size - at, at);
        if (bytesRead === 0) throw new ZipmlError('E_IO', `${path}: file shrank while being read (at byte ${at} of ${size})`);
        at += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (e instanceof ZipmlError) throw e;
    throw new ZipmlError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads a vector file of any supported format (HDF5 has its own loader: readAnnHdf5File). */
export async function readVectorFile(path: string, opts: VectorFileOptions = {}): Promise<VectorData | TextVectors> {
  const format = opts.format ?? formatFromPath(path);
  if (!format) {
    throw new ZipmlError('E_ARG', `${path}: cannot tell the format from the name; pass format (${/\.h(df)?5$/i.test(path) ? 'HDF5: use readAnnHdf5File' : 'fvecs, npy, idx, text, raw-f32, ...'})`);
  }
  if (format === 'raw-f32' && opts.d === undefined) throw new ZipmlError('E_ARG', `${path}: a raw f32 file needs d`);
  const bytes = await readFileBounded(path, maxBytesOf(opts));
  try {
    switch (format) {
      case 'fvecs': return parseFvecs(bytes, opts);
      case 'ivecs': return parseIvecs(bytes, opts);
      case 'bvecs': return parseBvecs(bytes, opts);
      case 'npy': return parseNpy(bytes, opts);
      case 'idx': return parseIdx(bytes, opts);
      case 'text': return parseTextVectors(bytes, opts);
      case 'raw-f32': return parseRawF32(bytes, opts.d!, opts);
    }
  } catch (e) {
    // Name the file: the parsers only know offsets.
    if (e instanceof ZipmlError) throw new ZipmlError(e.code, `${path}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Writes n x d vectors in `format` (not idx), atomically; refuses to replace a file unless `overwrite`. */
export async function writeVectorFile(
  path: string,
  v: VectorData,
  format: Exclude<VectorFileFormat, 'idx'>,
  opts: { overwrite?: boolean } = {},
): Promise<void> {
  const { data, n, d } = v;
  const wrong = () => new ZipmlError('E_ARG', `${format} cannot hold ${data.constructor.name} data`);
  let bytes: Uint8Array;
  switch (format) {
    case 'fvecs':
      if (!(data instanceof Float32Array)) throw wrong();
      bytes = encodeFvecs(data, d);
      break;
    case 'ivecs':
      if (!(data instanceof Int32Array)) throw wrong();
      bytes = encodeIvecs(data, d);
      break;
    case 'bvecs':
      if (!(data instanceof Uint8Array)) throw wrong();
      bytes = encodeBvecs(data, d);
      break;
    case 'npy':
      bytes = encodeNpy(data, [n, d]);
      break;
    case 'text':
    case 'raw-f32':
      if (!(data instanceof Float32Array)) throw wrong();
      bytes = format === 'text' ? encodeTextVectors(data, d) : encodeRawF32(data, d);
      break;
  }
  await writeFileAtomic(path, bytes, { overwrite: opts.overwrite ?? false });
}
