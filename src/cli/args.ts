/** Argument parsers and small helpers shared by the CLI's command files. */
import { InvalidArgumentError } from 'commander';
import { readFile } from 'node:fs/promises';
import { ZipmlError } from '../core/errors.js';

/** commander parser for an integer in min..max. */
export function intArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    return n;
  };
}

/** commander parser for a number in min..max. */
export function numArg(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`expected a number in ${min}..${max}`);
    return n;
  };
}

/** commander parser for one of a fixed set of words. */
export function choiceArg<T extends string>(choices: readonly T[]) {
  return (v: string): T => {
    if (!(choices as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`);
    return v as T;
  };
}

/** A whole file as bytes, with E_IO naming the file on failure. */
export async function readInput(file: string): Promise<Uint8Array> {
  try {
    const b = await readFile(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new ZipmlError('E_IO', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** Bytes as megabytes with two decimals. */
export function mb(n: number): string {
  return (n / 1e6).toFixed(2);
}
