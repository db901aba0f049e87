/**
 * The shared picture of a model file: which byte ranges hold tensors (with dtype and shape) and
 * which are structure (headers, graph, padding). The packer groups tensor bytes by dtype and keeps
 * everything else as structure, so the original file is rebuilt byte for byte.
 *
 * Readers take a ByteSource (random access) so a multi-GB file is never loaded whole: they read
 * headers and index structures, never tensor data (except the few formats whose framing is
 * interleaved with the data, where they read only the framing words).
 */
import { ZipmlError } from '../core/errors.js';

export type TensorDType =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2'
  | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL'
  /** Quantized ggml block types kept as bytes: GGML_Q4_0, GGML_Q5_1, GGML_Q4_K, ... */
  | `GGML_${string}`;

export type ModelFormat = 'safetensors' | 'gguf' | 'onnx' | 'npy' | 'llama2c' | 'tflite' | 'ncnn' | 'ggmf' | 'tfjs' | 'unknown';

export interface TensorRegion {
  name: string;
  dtype: TensorDType;
  shape: number[];
  /** Where the tensor's bytes start in the file. */
  offset: number;
  byteLength: number;
}

/** A tensor whose bytes live in another file (ONNX external data). */
export interface ExternalTensorRegion extends TensorRegion {
  /** The file name as the model states it (relative to the model's folder). */
  file: string;
}

export interface ModelLayout {
  format: ModelFormat;
  fileSize: number;
  /** Sorted by offset, non-overlapping, inside the file. */
  tensors: TensorRegion[];
  metadata: Record<string, string>;
  /**
   * Tensors stored outside this file (ONNX `data_location = EXTERNAL`), grouped by nothing: each
   * names its file. Empty for every other format. Their bytes are not part of `fileSize`.
   */
  external?: ExternalTensorRegion[];
}

/** Random access to bytes, so multi-GB files are never loaded whole. */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset`; the caller keeps offset + length <= size. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface LayoutOptions {
  /** The file's name (or path); used to pick a format when there is no magic number. */
  fileName?: string;
  /** Opens a file next to the model by name (ncnn .param, TFJS model.json, ONNX external data). */
  sidecar?: (name: string) => Promise<ByteSource | undefined>;
  /** Cap on a format's header / index bytes (default per format, e.g. 100 MB for safetensors). */
  maxHeaderBytes?: number;
  signal?: AbortSignal;
}

/** Most tensors a layout may list; far above any real model (a 70B GGUF has ~700). */
export const MAX_TENSORS = 1 << 20;
/** Most axes a tensor may have (ONNX and numpy allow more in theory; no weight uses more). */
export const MAX_DIMS = 16;
/** Longest tensor name in bytes. */
export const MAX_NAME_BYTES = 1 << 16;

const ELEMENT_BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, F8_E4M3: 1, F8_E5M2: 1,
  I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
};

/** Bytes per element of a plain dtype; undefined for block-quantized GGML_* types. */
export function dtypeElementBytes(dtype: TensorDType): number | undefined {
  return ELEMENT_BYTES[dtype];
}

export function bufferSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read(offset: number, length: number): Promise<Uint8Array> {
      if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= bytes.length)) {
        return Promise.reject(new ZipmlError('E_TRUNCATED', `read of ${length} bytes at ${offset} is past the end (${bytes.length} bytes)`, { offset }));
      }
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
  };
}

/** A file opened read-only through node:fs/promises (imported on demand, so browsers never load it). */
export async function fileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  const fs = await import('node:fs/promises');
  let fh: Awaited<ReturnType<typeof fs.open>>;
  let size: number;
  try {
    fh = await fs.open(path, 'r');
    size = (await fh.stat()).size;
  } catch (e) {
    throw new ZipmlError('E_IO', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
  }
  return {
    size,
    async read(offset: number, length: number): Promise<Uint8Array> {
      if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= size)) {
        throw new ZipmlError('E_TRUNCATED', `${path}: read of ${length} bytes at ${offset} is past the end (${size} bytes)`, { offset });
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        let n: number;
        try {
          ({ bytesRead: n } = await fh.read(out, done, length - done, offset + done));
        } catch (e) {
          throw new ZipmlError('E_IO', `${path}: read failed at ${offset + done}: ${(e as Error).message}`, { cause: e });
        }
        if (n === 0) throw new ZipmlError('E_TRUNCATED', `${path}: file shrank while reading`, { offset: offset + done });
        done += n;
      }
      return out;
    },
    close: () => fh.close(),
  };
}

/**
 * Sidecar opener for a model on disk: opens files in the model's folder (or below it) by relative
 * name; absolute names and '..' are refused, so a hostile model cannot name files elsewhere. Opened
 * files are cached and all closed by close().
 */
export function siblingSidecar(modelPath: string): { sidecar: (name: string) => Promise<ByteSource | undefined>; close(): Promise<void> } {
  const open = new Map<string, Promise<(ByteSource & { close(): Promise<void> }) | undefined>>();
  const slash = Math.max(modelPath.lastIndexOf('/'), modelPath.lastIndexOf('\\'));
  const dir = slash >= 0 ? modelPath.slice(0, slash + 1) : '';
  return {
    sidecar(name: string): Promise<ByteSource | undefined> {
      const parts = name.split(/[\\/]/);
      if (name === '' || /^[\\/]|^[a-zA-Z]:/.test(name) || parts.some((x) => x === '..' || x === '.' || x === '')) return Promise.resolve(undefined);
      let p = open.get(name);
      if (!p) {
        p = fileSource(dir + name).catch((e: unknown) => {
          if (e instanceof ZipmlError && e.code === 'E_IO') return undefined;
          throw e;
        });
        open.set(name, p);
      }
      return p;
    },
    async close(): Promise<void> {
      for (const p of open.values()) await (await p)?.close();
      open.clear();
    },
  };
}

/** Reads the layout of a model file on disk, with its sidecars (ncnn .param, TFJS model.json, ONNX external data). */
export async function readModelLayoutFile(path: string, opts: Omit<LayoutOptions, 'fileName' | 'sidecar'> = {}): Promise<ModelLayout> {
  const src = await fileSource(path);
  const side = siblingSidecar(path);
  try {
    return await readModelLayout(src, { ...opts, fileName: path, sidecar: side.sidecar });
  } finally {
    await side.close();
    await src.close();
  }
}

/**
 * Checks what every reader promises: regions inside the file, sorted, non-overlapping, and a byte
 * length that equals the shape's size for plain dtypes. Throws E_CORRUPT naming the tensor.
 */
export function checkLayout(layout: ModelLayout): void {
  let end = 0;
  for (const t of layout.tensors) {
    if (!(Number.isSafeInteger(t.offset) && Number.isSafeInteger(t.byteLength) && t.offset >= 0 && t.byteLength >= 0)) {
      throw new ZipmlError('E_CORRUPT', `${layout.format}: tensor '${t.name}' has an invalid range`);
    }
    if (t.offset < end) throw new ZipmlError('E_CORRUPT', `${layout.format}: tensor '${t.name}' overlaps the one before it`, { offset: t.offset });
    if (t.offset + t.byteLength > layout.fileSize) {
      throw new ZipmlError('E_TRUNCATED', `${layout.format}: tensor '${t.name}' ends at ${t.offset + t.byteLength}, past the end of the ${layout.fileSize}-byte file`, { offset: t.offset });
    }
    const eb = dtypeElementBytes(t.dtype);
    if (eb !== undefined) {
      let n = eb;
      for (const d of t.shape) n *= d;
      if (n !== t.byteLength) {
        throw new ZipmlError('E_CORRUPT', `${layout.format}: tensor '${t.name}' ${t.dtype}[${t.shape.join(',')}] needs ${n} bytes, region has ${t.byteLength}`, { offset: t.offset });
      }
    }
    end = t.offset + t.byteLength;
  }
}

/**
 * Sniffs the format and returns the layout; `format: 'unknown'` with no tensors when nothing
 * matches. A file that carries a format's magic number but fails its checks throws.
 */
export async function readModelLayout(src: ByteSource, opts: LayoutOptions = {}): Promise<ModelLayout> {
  // Loaded on demand: the readers import this module's constants, so a static import here would
  // make a cycle (reader → common → layout → sniff → readers) that breaks whichever module is
  // imported first.
  const { sniffAndRead } = await import('./formats/sniff.js');
  const layout = await sniffAndRead(src, opts);
  checkLayout(layout);
  return layout;
}
