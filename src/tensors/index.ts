/** zipml/tensors: model-file formats and layouts, lossless packing of model weights, a small-LLM runtime and weight quantizers. */
export {
  readModelLayout, readModelLayoutFile, siblingSidecar, checkLayout, bufferSource, fileSource, dtypeElementBytes, MAX_TENSORS, MAX_DIMS,
  MAX_NAME_BYTES as MAX_TENSOR_NAME_BYTES,
  type TensorDType, type ModelFormat, type TensorRegion, type ExternalTensorRegion, type ModelLayout, type ByteSource, type LayoutOptions,
} from './layout.js';
export { groupBytes, ungroupBytes, schemeElementBytes, schemeForDtype, GROUP_SCHEMES, type GroupScheme } from './pack/grouping.js';
export { encodeChunk, decodeChunk, chunkInfo, DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, STREAM_TYPE_NAMES, type ChunkInfo } from './pack/chunk.js';
export { PACK_KIND, type PackMeta, type PackedTensor, type TensorEncoding, type LaneInfo } from './pack/format.js';
export { packModel, packBytes, packSmallest, hashSource, MemoryPackSink, type PackOptions, type PackResult, type PackSink, type BaseCheckpoint } from './pack/pack.js';
export { unpackTo, unpackBytes, readPackedTensor, openPacked, memoryPackedReader, type PackedReader, type UnpackOptions, type OpenPacked } from './pack/unpack.js';
export { packFile, unpackFile, filePackedReader, AtomicFileSink, type FileOptions, type PackedFormat } from './pack/files.js';
export { packSafetensorsBytes, unpackSafetensorsBytes, isSafetensorsPacked, STRUCTURE_TENSOR, SAFETENSORS_PACK_FORMAT } from './pack/safetensors-out.js';
export { inspectModel, inspectPacked, streamEntropies, type TensorStats } from './pack/inspect.js';
export { createSha256, createSha256Offloaded, Sha256Reference, type Sha256 } from './pack/sha256.js';
// Model formats: readers (tensor byte ranges, validated) and writers.
export {
  readSafetensorsLayout, safetensorsHeader, writeSafetensors, encodeSafetensors, SAFETENSORS_MAX_HEADER_BYTES,
  type SafetensorsTensor, type SafetensorsWriteOptions,
} from './formats/safetensors.js';
export {
  parseGgufHeader, readGgufHeader, readGgufLayout, writeGguf, encodeGguf, GgufType, GGUF_MAGIC, GGUF_DEFAULT_ALIGNMENT,
  type GgufScalar, type GgufArray, type GgufKV, type GgufTensorInfo, type GgufHeader, type GgufTensorSpec, type GgufWriteOptions,
} from './formats/gguf.js';
export { GgmlType, ggmlTypeById, ggmlTypeByName, ggmlDtype, ggmlTypeOfDtype, ggmlByteLength } from './formats/ggml-types.js';
export {
  readLlama2cLayout, writeLlama2c, encodeLlama2c, llama2cTensorShapes, parseLlama2cHeader, type Llama2cConfig,
} from './formats/llama2c.js';
export { readOnnxLayout, type OnnxLayoutOptions } from './formats/onnx.js';
export { readNpyLayout } from './formats/npy.js';
export { readTfliteLayout } from './formats/tflite.js';
export { readNcnnLayout, readNcnnParam, parseNcnnParam, type NcnnLayoutOptions } from './formats/ncnn.js';
export { readGgmfLayout } from './formats/ggmf.js';
export { readTfjsLayout, findTfjsManifest, type TfjsLayoutOptions } from './formats/tfjs.js';
export { BufferSink, type ByteSink, type TensorBytes } from './formats/common.js';
export { specialFloatTensors, specialFloatsSafetensors } from './formats/special-floats.js';
export { narrowedTensors, writeNarrowedSafetensors, encodeNarrowedSafetensors, type NarrowFloat } from './formats/derive.js';
// The small-LLM runtime (llama2.c checkpoints) and weight quantizers (issue 7, first part).
export { LlamaModel, llamaWeightsFromLlama2c, LINEAR_NAMES, type LlamaWeights, type LinearName } from './llm/model.js';
export { DenseLinear, type LinearOp } from './llm/linear.js';
export { Llama2cTokenizer, BOS, EOS } from './llm/tokenizer.js';
export { Sampler, generate, argmax } from './llm/sampler.js';
export { perplexity, teacherForce, textDocuments, lastDocs, logProb } from './llm/perplexity.js';
export { compareModels, referenceTrace, compareToTrace, evaluateAgainst, greedyAgreement, greedyContinuation, greedyPrompts, modelStorage, linearStorageBits } from './llm/compare.js';
export { quantizeRTN, dequantize, type QuantOptions } from './quant/rtn.js';
export { bitsPerWeight, zeroPoint, QUANT_BITS, type PackedMatrix } from './quant/packed.js';
export { TableLinear, type TableMatrix, dequantizeTable, tableBitsPerWeight, tableSections, tableFromSections } from './quant/table.js';
export { quantizeKMeans, quantizeModelKMeans, weightedKMeans1D } from './quant/kmeans.js';
export { qmatmulReference, tableMatmulReference, linearMatmul, type BatchLinearOp } from './quant/qmatmul.js';
export { QuantLinear, QuantArena, qmatvecReference } from './quant/qmatvec.js';
export { quantizeModelRTN } from './quant/model.js';
export { quantizeGPTQ, captureHessians, quantizeModelGPTQ, HessianAccumulator, gptqCore, actOrder, searchGroupParams, quantizeWithHessians, hessianKey, type GptqOptions, type CalibratedOptions } from './quant/gptq.js';
export { quantizeHQQ, quantizeModelHQQ, type HqqOptions } from './quant/hqq.js';
export { OutlierLinear, quantizeGPTQOutliers, quantizeModelGPTQOutliers, outlierSaliency, sparseFromMask, type SparseOutliers } from './quant/outliers.js';
export { SpqrLinear, quantizeSpqr, spqrLayer, quantizeModelSpqr, dequantizeSpqr, spqrMatvecReference, spqrSections, spqrFromSections, spqrBits, SPQR_BITS, type SpqrMatrix, type SpqrOptions, type SpqrResult, type SpqrBits } from './quant/spqr.js';
export { LowRankLinear, lowRankResidual, withLowRank, type LowRank } from './quant/lowrank.js';
export { truncatedSvd } from './quant/linalg.js';
export { measureSensitivity, allocateWidths, quantizeModelMixed, type MixedResult } from './quant/mixed.js';
export { quantizeModelMethod, quantizeModelMixedMethod, layerQuantizer, type MethodOptions } from './quant/methods.js';
export { QUANT_METHODS, quantMethod, quantizeModel, methodSupportsBits, checkBitsAndGroup, type QuantMethod, type QuantizeOptions } from './quant/registry.js';
export { encodeQuantizedModel, decodeQuantizedModel, writeQuantizedModel, readQuantizedModel, LAYER_CODECS, QUANT_MODEL_KIND, type LayerCodec } from './quant/file.js';
export { openModelBytes, disjointSlices, firstSlice, lastSlice } from './quant/pipeline.js';
export { exportGguf, writeGgufModel, ggufModelFile, ggufTypeFor, GGUF_LINEAR_NAMES, type GgufExportOptions, type GgufLinearType, type GgufTensorReport } from './quant/gguf-export.js';
export { loadGgufModel, packedFromGgml, type GgufImportOptions, type GgufModel } from './quant/gguf-import.js';
export { ggmlQuantize, ggmlDequantize, GGML_BLOCK, type GgmlBlockType, type GgmlEncodeType } from './quant/ggml-quants.js';
export { GgmlLinear } from './quant/ggml-linear.js';
export { denseWeights } from './quant/dense-weights.js';
export { exportMatMulNBits, encodeMatMulNBitsModel, matMulNBitsFromPacked, packedFromMatMulNBits, matMulNBitsOf, matMulNBitsReference, type MatMulNBitsWeights, type MatMulNBitsLayer, type MatMulNBitsExportOptions } from './quant/onnx-matmulnbits.js';
export { encodeOnnxModel, type OnnxModelSpec } from './formats/onnx-write.js';
