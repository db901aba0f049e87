/** Shared-data loaders for the llm tests (each skips with a message when the data is missing). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LlamaModel } from '../../../src/tensors/llm/model.js';
import { Llama2cTokenizer } from '../../../src/tensors/llm/tokenizer.js';
import { restoreStories260K } from '../../util/stories260k.js';

export const DATA = '../shared/data';
export const MODEL = join(DATA, 'models/llama2c/stories260K.bin');
export const TOKENIZER = join(DATA, 'models/llama2c/tok512-c64.bin');
export const TEXT = join(DATA, 'text/tinystories/tinystories_val.txt');

export function have(t: { skip(msg: string): void }, ...paths: string[]): boolean {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length) t.skip(`missing ${missing.join(', ')} (shared data not present)`);
  return missing.length === 0;
}

let trained: Uint8Array | undefined;
/** The trained checkpoint: the shared copy with its linear weights un-permuted (see test/util/stories260k.ts). */
export function modelBytes(): Uint8Array {
  trained ??= restoreStories260K(new Uint8Array(readFileSync(MODEL)));
  return trained;
}
export const loadModel = (): LlamaModel => LlamaModel.fromLlama2c(modelBytes());
export const loadTokenizer = (): Llama2cTokenizer => Llama2cTokenizer.fromC64(new Uint8Array(readFileSync(TOKENIZER)));
export const loadText = (): string => readFileSync(TEXT, 'utf8');
