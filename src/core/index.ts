/** zipml/core: the primitives every part stands on. Browser-safe: Node-only modules load lazily. */
export * from './errors.js';
export * from './dtypes.js';
export * from './bits.js';
export * from './checksum.js';
export * from './entropy/histogram.js';
export * from './container.js';
export { ContainerFile, ContainerFileWriter, type ContainerFileWriterOptions } from './container-file.js';
export { writeFileAtomic, type AtomicWriteOptions } from './atomic-file.js';
