/**
 * ann-benchmarks HDF5 files (`sift-128-euclidean.hdf5`, ...): datasets `train` and `test`
 * (vectors), `neighbors` (ids of the true nearest neighbours of each test vector) and `distances`,
 * plus attributes `distance` and `point_type`. Read through h5wasm, the HDF5 C library compiled to
 * WebAssembly, loaded on first use.
 *
 * Every dataset's rank, element type and byte size are checked against the limits from its
 * metadata before its values are read, so a file declaring a huge dataset costs nothing. The HDF5
 * library's own errors become E_CORRUPT (E_FORMAT for a file that is not HDF5). The library can
 * also loop forever on some corrupt files, so it runs in a worker that is ended at a time limit.
 */
import { WorkerPool, ZipmlError, isZipmlError } from '../../core/index.js';
import type { Metric } from '../types.js';
import { type ReadLimits, type VectorData, MAX_DIM, allocate, checkedMul, maxBytesOf } from './common.js';

/** h5wasm's namespace object (the browser/ESM build and the Node build share it). */
type H5 = typeof import('h5wasm').default;
type H5File = InstanceType<H5['File']>;

export interface AnnDataset {
  train: VectorData<Float32Array | Uint8Array>;
  test: VectorData<Float32Array | Uint8Array>;
  /** Ids of each test vector's true nearest neighbours (usually 100), when present. */
  neighbors?: VectorData<Int32Array>;
  distances?: VectorData<Float32Array>;
  /** The file's `distance` attribute: 'euclidean', 'angular', 'dot', 'hamming', 'jaccard', ... */
  distance?: string;
  /** `distance` in zipml's words, where it has one: euclidean -> l2, angular -> cos, dot -> ip. */
  metric?: Metric;
  /** The file's `point_type` attribute ('float', 'bit', ...). */
  pointType?: string;
}

/** HDF5 (H5T) type classes we accept. */
const H5T_INTEGER = 0, H5T_FLOAT = 1, H5T_ENUM = 8;
const METRICS: Record<string, Metric> = { euclidean: 'l2', angular: 'cos', dot: 'ip' };
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** The deepest frame of an HDF5 error stack ("H5F__super_read(): truncated file ...") or the message. */
function hdf5Message(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  const frames = [...msg.matchAll(/in (\w+\(\)): (.*)$/gm)];
  return frames.length ? `${frames[frames.length - 1]![1]}: ${frames[frames.length - 1]![2]}` : msg.split('\n')[0]!;
}

type Role = 'vectors' | 'ids' | 'distances';

/** One 2-D dataset, validated from its metadata before its values are read. */
function readDataset(h5: H5, file: H5File, keys: readonly string[], name: string, role: Role, maxBytes: number): VectorData | undefined {
  if (!keys.includes(name)) return undefined;
  const ds = file.get(name);
  if (!(ds instanceof h5.Dataset)) throw new ZipmlError('E_FORMAT', `hdf5: '${name}' is not a dataset`);
  const meta = ds.metadata;
  const shape = meta.shape;
  if (!shape || shape.length !== 2) throw new ZipmlError('E_FORMAT', `hdf5: '${name}' has shape (${shape?.join(', ') ?? 'scalar'}), expected 2-D`);
  const [n, d] = shape as [number, number];
  if (d > MAX_DIM) throw new ZipmlError('E_LIMIT', `hdf5: '${name}' rows of ${d} exceed the limit of ${MAX_DIM}`);
  const cls = meta.type;
  const isFloat = cls === H5T_FLOAT && (meta.size === 4 || meta.size === 8);
  const isInt = (cls === H5T_INTEGER || cls === H5T_ENUM) && [1, 2, 4, 8].includes(meta.size);
  // Vectors: floats, or bytes (ann-benchmarks' 'bit' sets store bools); ids: integers.
  const ok = role === 'ids' ? isInt : role === 'distances' ? isFloat : isFloat || (isInt && meta.size === 1);
  if (!ok) throw new ZipmlError('E_FORMAT', `hdf5: '${name}' has element type class ${cls} of ${meta.size} bytes, unsupported for ${role}`);
  const bytes = role === 'vectors' && !isFloat ? 1 : 4;
  const count = checkedMul(n, d, Math.floor(maxBytes / Math.max(bytes, meta.size)), `hdf5: '${name}' element count`);
  const value = ds.value;
  if (!ArrayBuffer.isView(value) || !('length' in value) || value.length !== count) {
    throw new ZipmlError('E_CORRUPT', `hdf5: '${name}' did not read as ${count} values`);
  }
  if (role !== 'ids') {
    if (!isFloat) return { data: new Uint8Array(value.buffer, value.byteOffset, count).slice(), n, d };
    const out = value instanceof Float32Array ? value : allocate(Float32Array, count, maxBytes, `hdf5 '${name}'`);
    if (value instanceof Float64Array) out.set(value);
    else if (!(value instanceof Float32Array)) throw new ZipmlError('E_CORRUPT', `hdf5: '${name}' float data read as ${value.constructor.name}`);
    return { data: out, n, d };
  }
  const out = allocate(Int32Array, count, maxBytes, `hdf5 '${name}'`);
  const src = value as unknown as ArrayLike<number | bigint>;
  for (let i = 0; i < count; i++) {
    const v = Number(src[i]!);
    if (!(v >= -0x80000000 && v <= 0x7fffffff)) throw new ZipmlError('E_LIMIT', `hdf5: '${name}' id ${String(src[i])} at index ${i} is outside the int32 range`);
    out[i] = v;
  }
  return { data: out, n, d };
}

function stringAttr(file: H5File, names: readonly string[], name: string): string | undefined {
  if (!names.includes(name)) return undefined;
  const v = file.get_attribute(name, true);
  return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
}

/**
 * Reads an ann-benchmarks file that `h5` can open by `filename` (an in-memory file for the ESM
 * build, a host path for the Node build).
 */
function readAnnBenchmarks(h5: H5, filename: string, what: string, limits?: ReadLimits): AnnDataset {
  const maxBytes = maxBytesOf(limits);
  let file: H5File | undefined;
  try {
    file = new h5.File(filename, 'r');
    const keys = file.keys();
    const vectors = (name: string): VectorData<Float32Array | Uint8Array> => {
      const v = readDataset(h5, file!, keys, name, 'vectors', maxBytes);
      if (!v) throw new ZipmlError('E_FORMAT', `hdf5: ${what} has no '${name}' dataset (not an ann-benchmarks file?)`);
      return v as VectorData<Float32Array | Uint8Array>;
    };
    const out: AnnDataset = { train: vectors('train'), test: vectors('test') };
    if (out.train.d !== out.test.d) throw new ZipmlError('E_CORRUPT', `hdf5: train has d=${out.train.d}, test has d=${out.test.d}`);
    const neighbors = readDataset(h5, file, keys, 'neighbors', 'ids', maxBytes) as VectorData<Int32Array> | undefined;
    const distances = readDataset(h5, file, keys, 'distances', 'distances', maxBytes) as VectorData<Float32Array> | undefined;
    for (const [name, v] of [['neighbors', neighbors], ['distances', distances]] as const) {
      if (v && v.n !== out.test.n) throw new ZipmlError('E_CORRUPT', `hdf5: '${name}' has ${v.n} rows for ${out.test.n} test vectors`);
    }
    if (neighbors) out.neighbors = neighbors;
    if (distances) out.distances = distances;
    const attrs = Object.keys(file.attrs);
    const distance = stringAttr(file, attrs, 'distance');
    if (distance !== undefined) {
      out.distance = distance;
      if (METRICS[distance]) out.metric = METRICS[distance];
    }
    const pointType = stringAttr(file, attrs, 'point_type');
    if (pointType !== undefined) out.pointType = pointType;
    return out;
  } catch (e) {
    if (e instanceof ZipmlError) throw e;
    const msg = hdf5Message(e);
    throw new ZipmlError(/signature not found/.test(msg) ? 'E_FORMAT' : 'E_CORRUPT', `hdf5: ${what}: ${msg}`, { cause: e });
  } finally {
    try {
      file?.close();
    } catch {
      // A file the library failed to read may also fail to close; the read's error says why.
    }
  }
}

/** Loads an h5wasm build once, with HDF5 errors thrown (instead of printed to stderr). */
function initH5(load: () => Promise<{ default: H5 }>): () => Promise<H5> {
  let ready: Promise<H5> | undefined;
  return () =>
    (ready ??= load().then(async ({ default: h5 }) => {
      const module = await h5.ready;
      module.activate_throwing_error_handler();
      return h5;
    }).catch((e: unknown) => {
      ready = undefined;
      throw new ZipmlError('E_UNSUPPORTED', `hdf5: cannot load h5wasm (${(e as Error)?.message ?? e})`, { cause: e });
    }));
}

// The browser/ESM build keeps files in memory (MEMFS); the Node build reads the host file system
// directly (NODERAWFS), so a large file's datasets come from disk without a copy of the file.
const loadEsm = initH5(() => import('h5wasm'));
const loadNode = initH5(() => import('h5wasm/node'));
let memfsCounter = 0;

/** The superblock signature sits at 0 or, after a user block, at 512, 1024, 2048, ... */
function hasSignature(bytes: Uint8Array): boolean {
  for (let at = 0; at + 8 <= bytes.length; at = at === 0 ? 512 : at * 2) {
    if (HDF5_SIGNATURE.every((b, i) => bytes[at + i] === b)) return true;
  }
  return false;
}

/** @internal Worker task: parses in the calling thread. Use parseAnnHdf5, which bounds the time. */
export async function hdf5TaskParseBytes(bytes: Uint8Array, limits?: ReadLimits): Promise<AnnDataset> {
  if (!hasSignature(bytes)) throw new ZipmlError('E_FORMAT', 'hdf5: no HDF5 signature at byte 0, 512, 1024, ...', { offset: 0 });
  const maxBytes = maxBytesOf(limits);
  if (bytes.length > maxBytes) throw new ZipmlError('E_LIMIT', `hdf5: ${bytes.length} bytes exceed the limit of ${maxBytes}`);
  const h5 = await loadEsm();
  const fs = (await h5.ready).FS;
  const name = `/zipml-${++memfsCounter}.h5`;
  fs.writeFile(name, bytes);
  try {
    return readAnnBenchmarks(h5, name, 'input', limits);
  } finally {
    fs.unlink(name);
  }
}

/** @internal Worker task: reads a host file in the calling thread. Use readAnnHdf5File. */
export async function hdf5TaskReadFile(path: string, limits?: ReadLimits): Promise<AnnDataset> {
  return readAnnBenchmarks(await loadNode(), path, path, limits);
}

export interface AnnHdf5Options extends ReadLimits {
  /**
   * How long the HDF5 library may work on one file, in ms (default 60,000). A corrupt file can
   * make the C library loop forever; it runs in a worker, which is ended at this limit (E_LIMIT).
   */
  timeoutMs?: number;
}

export const HDF5_DEFAULT_TIMEOUT_MS = 60_000;
let pool: WorkerPool | undefined;

/** Runs a task of this module in the HDF5 worker (one, so h5wasm is instantiated once). */
async function inWorker(fn: 'hdf5TaskParseBytes' | 'hdf5TaskReadFile', arg: Uint8Array | string, opts: AnnHdf5Options, what: string): Promise<AnnDataset> {
  const timeoutMs = opts.timeoutMs ?? HDF5_DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new ZipmlError('E_ARG', `hdf5: timeoutMs must be > 0, got ${timeoutMs}`);
  pool ??= new WorkerPool({ size: 1 });
  const limits: ReadLimits = opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes };
  try {
    return await pool.run<AnnDataset>({ module: import.meta.url, fn }, [arg, limits], { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    if (isZipmlError(e, 'E_ABORTED')) {
      throw new ZipmlError('E_LIMIT', `hdf5: ${what}: the HDF5 library was still working after ${timeoutMs} ms (timeoutMs); a corrupt file can make it loop`);
    }
    throw e;
  }
}

/**
 * ann-benchmarks HDF5 bytes -> train/test/neighbors/distances, parsed in a worker so that a
 * hostile file can cost at most `timeoutMs`. The bytes are copied to the worker, not moved.
 */
export function parseAnnHdf5(bytes: Uint8Array, opts: AnnHdf5Options = {}): Promise<AnnDataset> {
  return inWorker('hdf5TaskParseBytes', bytes, opts, 'input');
}

/** An ann-benchmarks HDF5 file from disk (Node); datasets are size-checked before they are read. */
export async function readAnnHdf5File(path: string, opts: AnnHdf5Options = {}): Promise<AnnDataset> {
  const [{ resolve }, fs] = await Promise.all([import('node:path'), import('node:fs/promises')]);
  const abs = resolve(path);
  // Check it ourselves first, so a missing file is E_IO rather than an HDF5 error.
  await fs.access(abs).catch((e: unknown) => {
    throw new ZipmlError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  });
  return inWorker('hdf5TaskReadFile', abs, opts, path);
}
