/**
 * Picks the reader for a model file: magic numbers first, then the file name (and sidecars for
 * formats whose weight file has no header), then llama2.c's exact-size rule. A file that carries a
 * format's magic but fails its checks throws; a file nothing matches is 'unknown'.
 */
import type { ByteSource, LayoutOptions, ModelLayout } from '../layout.js';
import { readExact } from './common.js';
import { readLlama2cLayout } from './llama2c.js';
import { readNpyLayout } from './npy.js';
import { readSafetensorsLayout } from './safetensors.js';
import { isZipmlError } from '../../core/errors.js';

const ascii = (b: Uint8Array, from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));

export async function sniffAndRead(src: ByteSource, opts: LayoutOptions): Promise<ModelLayout> {
  const head = await readExact(src, 0, Math.min(src.size, 16), 'model header', opts.signal);
  if (head.length >= 6 && head[0] === 0x93 && ascii(head, 1, 6) === 'NUMPY') return readNpyLayout(src, opts);
  // safetensors: u64 header length that fits the file, then '{'.
  if (head.length >= 9 && head[8] === 0x7b && head[6] === 0 && head[7] === 0) {
    const n = new DataView(head.buffer, head.byteOffset).getUint32(0, true) + head[4]! * 2 ** 32 + head[5]! * 2 ** 40;
    if (n + 8 <= src.size) return readSafetensorsLayout(src, opts);
  }
  if (src.size >= 28) {
    try {
      return await readLlama2cLayout(src, opts);
    } catch (e) {
      if (!isZipmlError(e)) throw e;
    }
  }
  return { format: 'unknown', fileSize: src.size, tensors: [], metadata: {} };
}
