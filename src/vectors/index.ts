/** zipml/vectors: embedding codecs, k-means, exact k-NN, rotations, dataset readers. */
export type { Metric, TrainOptions, VectorCodec } from './types.js';
export { l2sqrDistances, innerProducts, squaredNorms, normalizeRows, pairwiseDistances, nearestCentroids } from './distances.js';
export { knn, knnAsync, type KnnResult, type KnnParallelOptions } from './knn.js';
export {
  kmeans, kmeansAsync, type KMeansOptions, type KMeansParallelOptions, type KMeansResult, type KMeansIterationStats,
} from './kmeans.js';
export {
  RandomOrthogonalRotation, HadamardRotation, PCATransform, DEFAULT_ROTATION_SEED,
  type VectorTransform, type TransformKind, type PCAOptions,
} from './rotation.js';
export { symmetricEigen } from './linalg.js';
export { ScalarQuantizer, SQ_TYPES, sqTypeFromName, type SQType, type RangeStat, type SQOptions } from './codecs/sq.js';
export { BinaryCodec, binaryOptionsFromName, type BinaryOptions, type BinaryRotation } from './codecs/binary.js';
export {
  RaBitQCodec, rabitqOptionsFromName, type RaBitQOptions, type RaBitQRotation, type BoundedDistances,
} from './codecs/rabitq.js';
export { MatryoshkaCodec, type MatryoshkaOptions } from './codecs/matryoshka.js';
export { ProductQuantizer, pqOptionsFromName, lutScan, type PQOptions, type PQTrainOptions } from './codecs/pq.js';
export {
  OPQCodec, opqOptionsFromName, trainOPQRotation, svd, type OPQOptions, type OPQTrainOptions, type OPQRotationResult,
} from './codecs/opq.js';
export {
  ResidualQuantizer, rqOptionsFromName, RQ_NORMS, type RQOptions, type RQTrainOptions, type RQNorm,
} from './codecs/rq.js';
export { createCodec } from './codecs/factory.js';
export { deserializeCodec, CODEC_CONTAINER_KIND, MAX_CODEC_DIM, MAX_CODEC_NESTING } from './codecs/serialize.js';
export {
  type VectorData, type VectorElements, type ReadLimits, DEFAULT_MAX_BYTES, MAX_DIM, toFloat32,
} from './io/common.js';
export { parseFvecs, parseIvecs, parseBvecs, encodeFvecs, encodeIvecs, encodeBvecs, type VecsKind } from './io/vecs.js';
export {
  parseNpy, encodeNpy, parseNpyHeader, type NpyArray, type NpyDescr, type NpyHeader, NPY_MAX_HEADER_BYTES, NPY_MAX_NDIM,
} from './io/npy.js';
export { parseIdx, type IdxArray, type IdxType, IDX_MAX_NDIM } from './io/idx.js';
export {
  parseTextVectors, encodeTextVectors, type TextReadOptions, type TextVectors, TEXT_DEFAULT_MAX_LINE_BYTES, TEXT_DEFAULT_MAX_ROWS,
} from './io/text.js';
export { parseRawF32, encodeRawF32 } from './io/raw.js';
export { parseAnnHdf5, readAnnHdf5File, type AnnDataset, type AnnHdf5Options, HDF5_DEFAULT_TIMEOUT_MS } from './io/hdf5.js';
export {
  readVectorFile, writeVectorFile, readFileBounded, formatFromPath, type VectorFileFormat, type VectorFileOptions,
} from './io/files.js';
export {
  loadSharedDataset, gaussianMixture, seededSplit, SHARED_DATASETS, SHARED_DATASET_FILES, SPLIT_SEED,
  type VectorDataset, type SharedDatasetName, type GaussianMixtureOptions,
} from './datasets.js';
export {
  VectorIndex, indexFactory,
  type IndexOptions, type IndexTrainOptions, type SearchParams, type SearchResult, type RangeResult, type AddOptions,
} from './index/vector-index.js';
export { parseFactory, type IndexRecipe, MAX_NLIST } from './index/factory.js';
export { saveIndex, loadIndex, INDEX_CONTAINER_KIND, INDEX_FORMAT_VERSION } from './index/file.js';
export { searchParallel, type ParallelSearchParams } from './index/parallel.js';
export { FlatCodec } from './index/flat-codec.js';
export { IdSet, filterAllows, type SearchFilter, type VectorId } from './search/filter.js';
export { TopK, Reservoir, type Collector } from './search/topk.js';
export {
  packFastScan, unpackFastScan, appendFastScan, fsCode, fsM2, fsBlocks, fsBlockBytes, FS_BLOCK, FS_MAX_M, type FastScanPacked,
  quantizeLut, quantizeLuts, lutApprox, lutKey, lutLimit, lutErrorBound, type QuantizedLut, type LutMetric,
  BlockScanner, fastScanAccumulate, SCAN_CAPACITY, FS_FACTORS_PER_BLOCK,
  fastScanInto, fastScanKnn, fastScanCandidates, fastScanExact, floatTableSum, type FastScanOptions, type FastScanResult,
  packRaBitQ, appendRaBitQ, rabitqQuery, rabitqEstimates, rabitqSearch, codecReranker, rabitqFactor, RABITQ_FACTORS,
  type RaBitQFastScan, type RaBitQQuery, type RaBitQMetric, type RaBitQSearchOptions, type RaBitQSearchResult,
  hammingKnn, hammingInto, type HammingKnnOptions,
} from './fastscan/index.js';
