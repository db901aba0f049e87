/** 4-bit fast-scan and RaBitQ / binary scanning: the compute kernels the indexes call. */
export { packFastScan, unpackFastScan, appendFastScan, fsCode, fsM2, fsBlocks, fsBlockBytes, FS_BLOCK, FS_MAX_M, type FastScanPacked } from './layout.js';
export { quantizeLut, quantizeLuts, lutApprox, lutKey, lutLimit, lutErrorBound, type QuantizedLut, type LutMetric } from './lut.js';
export { BlockScanner, fastScanAccumulate, SCAN_CAPACITY, FS_FACTORS_PER_BLOCK } from './kernels.js';
export {
  fastScanInto, fastScanKnn, fastScanCandidates, fastScanExact, floatTableSum, type FastScanOptions, type FastScanResult,
} from './search.js';
export {
  packRaBitQ, appendRaBitQ, rabitqQuery, rabitqEstimates, rabitqSearch, codecReranker, rabitqFactor, RABITQ_FACTORS,
  type RaBitQFastScan, type RaBitQQuery, type RaBitQMetric, type RaBitQSearchOptions, type RaBitQSearchResult,
} from './rabitq.js';
export { hammingKnn, hammingInto, type HammingKnnOptions } from './binary.js';
