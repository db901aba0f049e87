/** zipml: the root entry re-exports every part that exists. */
export * from './core/index.js';
export * from './kernels/index.js';
