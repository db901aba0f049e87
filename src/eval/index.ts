/** zipml/eval: metrics shared by every part (retrieval quality, distortion, distribution shift). */
export * from './retrieval.js';
export * from './distortion.js';
export * from './distributions.js';
