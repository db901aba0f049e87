/** zipml: the root entry re-exports every part that exists (each is also a subpath export). */
export * from './core/index.js';
export * from './kernels/index.js';
export * from './vectors/index.js';
export * from './eval/index.js';
export * from './tensors/index.js';
