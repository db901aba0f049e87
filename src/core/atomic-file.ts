/**
 * Whole-file atomic writes (Node only): write a temporary file beside the target, fsync, rename,
 * fsync the directory. Readers see the old file or the new one, never a torn mix.
 */
import { ZipmlError } from './errors.js';

export interface AtomicWriteOptions {
  /** Replace an existing file (default false: refuse with E_ARG). */
  overwrite?: boolean;
}

export async function writeFileAtomic(target: string, data: Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const [fs, path, crypto] = await Promise.all([import('node:fs/promises'), import('node:path'), import('node:crypto')]);
  if (!opts.overwrite && (await fs.stat(target).then(() => true, () => false))) {
    throw new ZipmlError('E_ARG', `${target} exists; pass overwrite (--force) to replace it`);
  }
  const tmp = `${target}.tmp-${crypto.randomBytes(6).toString('hex')}`;
  try {
    const fh = await fs.open(tmp, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, target);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw new ZipmlError('E_IO', `cannot write ${target}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const dir = await fs.open(path.dirname(path.resolve(target)), 'r');
    await dir.sync().catch(() => undefined);
    await dir.close();
  } catch {
    /* directories cannot be fsync'ed everywhere; the rename is still atomic */
  }
}
