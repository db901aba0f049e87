/**
 * Picks the reader for a model file: magic numbers first, then the file name (and sidecars for
 * formats whose weight file has no header), then llama2.c's exact-size rule. A file that carries a
 * format's magic but fails its checks throws; a file nothing matches is 'unknown'.
 */
import type { ByteSource, LayoutOptions, ModelLayout } from '../layout.js';
import { readExact } from './common.js';
import { GGMF_MAGIC, readGgmfLayout } from './ggmf.js';
import { GGUF_MAGIC, readGgufLayout } from './gguf.js';
import { readLlama2cLayout } from './llama2c.js';
import { ncnnParamName, readNcnnLayout } from './ncnn.js';
import { readNpyLayout } from './npy.js';
import { readOnnxLayout } from './onnx.js';
import { readSafetensorsLayout } from './safetensors.js';
import { findTfjsManifest, readTfjsLayout, tfjsListsShard } from './tfjs.js';
import { readTfliteLayout } from './tflite.js';
import { isZipmlError } from '../../core/errors.js';

const ascii = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));

/** Whether the sidecar `file` exists and starts with `prefix`. */
async function sidecarStarts(opts: LayoutOptions, file: string, prefix: string): Promise<boolean> {
  const side = await opts.sidecar!(file);
  if (!side || side.size < prefix.length) return false;
  return ascii(await side.read(0, prefix.length), 0, prefix.length) === prefix;
}

export async function sniffAndRead(src: ByteSource, opts: LayoutOptions): Promise<ModelLayout> {
  const head = await readExact(src, 0, Math.min(src.size, 16), 'model header', opts.signal);
  const magic = head.length >= 4 ? new DataView(head.buffer, head.byteOffset).getUint32(0, true) : -1;
  if (magic === GGUF_MAGIC) return readGgufLayout(src, opts);
  if (magic === GGMF_MAGIC) return readGgmfLayout(src, opts);
  if (head.length >= 8 && ascii(head, 4, 8) === 'TFL3') return readTfliteLayout(src, opts);
  if (head.length >= 6 && head[0] === 0x93 && ascii(head, 1, 6) === 'NUMPY') return readNpyLayout(src, opts);
  // safetensors: u64 header length that fits the file, then '{'.
  if (head.length >= 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0) {
    const n = new DataView(head.buffer, head.byteOffset).getUint32(0, true) + head[4]! * 2 ** 32 + head[5]! * 2 ** 40;
    if (n + 8 <= src.size) return readSafetensorsLayout(src, opts);
  }
  const name = (opts.fileName ?? '').toLowerCase();
  if (name.endsWith('.onnx')) return readOnnxLayout(src, opts);
  if (name.endsWith('.bin') && opts.sidecar && (await sidecarStarts(opts, ncnnParamName(opts.fileName!), '7767517'))) return readNcnnLayout(src, opts);
  if (name.endsWith('.bin') && opts.sidecar) {
    // A broken or unrelated model.json next to the file does not make it a TFJS shard.
    const manifest = await findTfjsManifest(opts).catch((e: unknown) => {
      if (isZipmlError(e)) return undefined;
      throw e;
    });
    if (manifest && tfjsListsShard(manifest, opts.fileName!)) return readTfjsLayout(src, opts);
  }
  if (src.size >= 28) {
    try {
      return await readLlama2cLayout(src, opts);
    } catch (e) {
      if (!isZipmlError(e)) throw e;
    }
  }
  // ONNX has no magic; a ModelProto nearly always starts with ir_version (field 1, varint).
  if (head[0] === 0x08 && head.length >= 2 && head[1]! < 0x80) {
    try {
      const l = await readOnnxLayout(src, opts);
      if (l.tensors.length > 0 || (l.external?.length ?? 0) > 0) return l;
    } catch (e) {
      if (!isZipmlError(e)) throw e;
    }
  }
  return { format: 'unknown', fileSize: src.size, tensors: [], metadata: {} };
}
