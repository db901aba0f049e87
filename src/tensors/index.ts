/** zipml/tensors: model-file layouts and lossless packing of model weights. */
export {
  readModelLayout, checkLayout, bufferSource, fileSource, dtypeElementBytes, MAX_TENSORS, MAX_DIMS,
  MAX_NAME_BYTES as MAX_TENSOR_NAME_BYTES,
  type TensorDType, type ModelFormat, type TensorRegion, type ExternalTensorRegion, type ModelLayout, type ByteSource, type LayoutOptions,
} from './layout.js';
export { groupBytes, ungroupBytes, schemeElementBytes, schemeForDtype, GROUP_SCHEMES, type GroupScheme } from './pack/grouping.js';
export { encodeChunk, decodeChunk, chunkInfo, DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, STREAM_TYPE_NAMES, type ChunkInfo } from './pack/chunk.js';
export { PACK_KIND, type PackMeta, type PackedTensor, type TensorEncoding, type LaneInfo } from './pack/format.js';
export { packModel, packBytes, hashSource, MemoryPackSink, type PackOptions, type PackResult, type PackSink, type BaseCheckpoint } from './pack/pack.js';
export { unpackTo, unpackBytes, readPackedTensor, openPacked, memoryPackedReader, type PackedReader, type UnpackOptions, type OpenPacked } from './pack/unpack.js';
export { packFile, unpackFile, filePackedReader, AtomicFileSink, type FileOptions, type PackedFormat } from './pack/files.js';
export { packSafetensorsBytes, unpackSafetensorsBytes, isSafetensorsPacked, STRUCTURE_TENSOR, SAFETENSORS_PACK_FORMAT } from './pack/safetensors-out.js';
export { inspectModel, inspectPacked, streamEntropies, type TensorStats } from './pack/inspect.js';
export { createSha256, Sha256Reference, type Sha256 } from './pack/sha256.js';
