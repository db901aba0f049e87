/** zipml/core/lz: LZ77 + adaptive binary range coding (LZMA-class), raw and framed. */
export { lzEncode, type LzOptions } from './encode.js';
export { lzDecode, lzDecodeReference, LZ_DEFAULT_MAX_OUTPUT, LZ_WASM_MAX_OUTPUT, type LzDecodeOptions } from './decode.js';
export { LZ_DEFAULT_PROPS, type LzProps } from './model.js';
export { lzCompress, lzDecompress, lzFrameInfo, LZ_FRAME_MAGIC, LZ_FRAME_VERSION, LZ_FRAME_HEADER_BYTES, type LzFrameInfo } from './frame.js';
