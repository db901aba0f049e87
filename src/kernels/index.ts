/** zipml/kernels: which kernel path runs, and control over it. */
export { kernelPath, setKernelPath, simdSupported, type KernelPath } from './loader.js';
