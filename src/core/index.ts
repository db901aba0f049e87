/** zipml/core: the primitives every part stands on. Browser-safe: Node-only modules load lazily. */
export * from './errors.js';
export * from './dtypes.js';
export * from './bits.js';
export * from './checksum.js';
export * from './entropy/histogram.js';
export * from './container.js';
export { ContainerFile, ContainerFileWriter, type ContainerFileWriterOptions } from './container-file.js';
export { writeFileAtomic, type AtomicWriteOptions } from './atomic-file.js';
export * from './entropy/huffman.js';
export * from './entropy/rans.js';
export * from './entropy/frame.js';
export { compressAsync, decompressAsync, type ParallelOptions } from './entropy/frame-parallel.js';
export { WorkerPool, defaultPool, closeDefaultPool, type WorkerTask, type RunOptions, type WorkerPoolOptions, type TransferItem } from './workers/pool.js';
export { SeededRandom } from './random.js';
export * from './lz/index.js';
