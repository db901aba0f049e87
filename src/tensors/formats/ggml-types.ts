/**
 * ggml tensor types: id, name, elements per block and bytes per block. Ids are ggml's `enum
 * ggml_type` (llama.cpp ggml/include/ggml.h; 4, 5, 31-33 and 36-38 are retired), sizes are the
 * (block size, type size) pairs of gguf-py's GGML_QUANT_SIZES (llama.cpp gguf-py/gguf/constants.py),
 * which mirror the `blck_size` / `type_size` type traits in ggml.c and the block structs of
 * ggml-common.h. One exception: gguf-py still lists Q8_1 as 40 bytes (from when its scales were
 * floats); ggml-common.h static_asserts 2 * sizeof(ggml_half) + 32 = 36, which is what ggml uses.
 * A tensor of ne0 x ne1 x ... elements takes (ne0 / block) * typeSize bytes per row.
 */
import { ZipmlError } from '../../core/errors.js';
import type { TensorDType } from '../layout.js';
import { elementCount } from './common.js';

export interface GgmlType {
  id: number;
  name: string;
  blockSize: number;
  typeSize: number;
}

const QK_K = 256;

const TABLE: GgmlType[] = (
  [
    [0, 'F32', 1, 4], [1, 'F16', 1, 2], [2, 'Q4_0', 32, 18], [3, 'Q4_1', 32, 20], [6, 'Q5_0', 32, 22], [7, 'Q5_1', 32, 24],
    [8, 'Q8_0', 32, 34], [9, 'Q8_1', 32, 36], [10, 'Q2_K', QK_K, 2 + 2 + QK_K / 16 + QK_K / 4], [11, 'Q3_K', QK_K, 2 + QK_K / 4 + QK_K / 8 + 12],
    [12, 'Q4_K', QK_K, 2 + 2 + QK_K / 2 + 12], [13, 'Q5_K', QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12], [14, 'Q6_K', QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16],
    [15, 'Q8_K', QK_K, 4 + QK_K + QK_K / 8], [16, 'IQ2_XXS', QK_K, 2 + QK_K / 4], [17, 'IQ2_XS', QK_K, 2 + QK_K / 4 + QK_K / 32],
    [18, 'IQ3_XXS', QK_K, 2 + QK_K / 4 + QK_K / 8], [19, 'IQ1_S', QK_K, 2 + QK_K / 8 + QK_K / 16], [20, 'IQ4_NL', 32, 18],
    [21, 'IQ3_S', QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4], [22, 'IQ2_S', QK_K, 2 + QK_K / 4 + QK_K / 16], [23, 'IQ4_XS', QK_K, 2 + 2 + QK_K / 2 + QK_K / 64],
    [24, 'I8', 1, 1], [25, 'I16', 1, 2], [26, 'I32', 1, 4], [27, 'I64', 1, 8], [28, 'F64', 1, 8], [29, 'IQ1_M', QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32],
    [30, 'BF16', 1, 2], [34, 'TQ1_0', QK_K, 2 + 4 * 13], [35, 'TQ2_0', QK_K, 2 + 64], [39, 'MXFP4', 32, 1 + 16], [40, 'NVFP4', 64, 4 + 32],
    [41, 'Q1_0', 128, 2 + 16], [42, 'Q2_0', 64, 2 + 16],
  ] as const
).map(([id, name, blockSize, typeSize]) => ({ id, name, blockSize, typeSize }));

const BY_ID = new Map(TABLE.map((t) => [t.id, t]));
const BY_NAME = new Map(TABLE.map((t) => [t.name, t]));
/** ggml types that are plain element types in our dtype vocabulary. */
const PLAIN: Record<string, TensorDType> = { F32: 'F32', F16: 'F16', BF16: 'BF16', F64: 'F64', I8: 'I8', I16: 'I16', I32: 'I32', I64: 'I64' };

export function ggmlTypeById(id: number): GgmlType | undefined {
  return BY_ID.get(id);
}

export function ggmlTypeByName(name: string): GgmlType | undefined {
  return BY_NAME.get(name);
}

/** Our dtype for a ggml type: the plain name when there is one, else GGML_<NAME> (kept as bytes). */
export function ggmlDtype(t: GgmlType): TensorDType {
  return PLAIN[t.name] ?? `GGML_${t.name}`;
}

/** The ggml type behind a dtype (plain or GGML_<NAME>). */
export function ggmlTypeOfDtype(dtype: TensorDType): GgmlType | undefined {
  return BY_NAME.get(dtype.startsWith('GGML_') ? dtype.slice(5) : dtype);
}

/**
 * Bytes of a tensor with ggml dims `ne` (ne[0] fastest). ne[0] must be a multiple of the block
 * size, as ggml requires; the count is bounded by `maxBytes`.
 */
export function ggmlByteLength(t: GgmlType, ne: readonly number[], maxBytes: number, what: string, offset?: number): number {
  const ne0 = ne.length > 0 ? ne[0]! : 1;
  if (ne0 % t.blockSize !== 0) {
    throw new ZipmlError('E_CORRUPT', `${what}: first dimension ${ne0} is not a multiple of the ${t.name} block size ${t.blockSize}`, { offset });
  }
  const blocks = elementCount(ne, Number.MAX_SAFE_INTEGER, what, offset) / t.blockSize;
  if (blocks > maxBytes / t.typeSize) throw new ZipmlError('E_LIMIT', `${what}: ${blocks} ${t.name} blocks exceed ${maxBytes} bytes`, { offset });
  return blocks * t.typeSize;
}
