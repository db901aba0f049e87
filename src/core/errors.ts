/**
 * One error class for everything zipml throws on purpose. `code` is stable and
 * machine-readable; the message says what is wrong and where (offset, section, field).
 */
export type ZipmlErrorCode =
  | 'E_CORRUPT' // data fails a checksum or a structural check
  | 'E_TRUNCATED' // data ends before a declared length
  | 'E_LIMIT' // a declared length or count exceeds a documented bound
  | 'E_ARG' // a caller passed an invalid argument
  | 'E_FORMAT' // wrong magic, unknown version or unsupported feature
  | 'E_IO' // a file-system operation failed
  | 'E_ABORTED' // an AbortSignal fired
  | 'E_WORKER' // a worker failed or the pool was closed
  | 'E_UNSUPPORTED'; // the runtime lacks something needed

export class ZipmlError extends Error {
  readonly code: ZipmlErrorCode;
  /** Byte offset in the input where the problem was found, when known. */
  readonly offset: number | undefined;

  constructor(code: ZipmlErrorCode, message: string, options?: { offset?: number; cause?: unknown }) {
    super(options?.offset !== undefined ? `${message} (at byte ${options.offset})` : message, {
      cause: options?.cause,
    });
    this.name = 'ZipmlError';
    this.code = code;
    this.offset = options?.offset;
  }
}

export function isZipmlError(e: unknown, code?: ZipmlErrorCode): e is ZipmlError {
  return e instanceof ZipmlError && (code === undefined || e.code === code);
}

/** Throws E_ARG unless `cond` holds. */
export function argCheck(cond: boolean, message: string): asserts cond {
  if (!cond) throw new ZipmlError('E_ARG', message);
}

/** Throws E_ABORTED if the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new ZipmlError('E_ABORTED', `${what} was aborted`, { cause: signal.reason });
}

/** Options shared by every long operation. */
export interface LongOpOptions {
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}
