#!/usr/bin/env node
/**
 * The `zipml` command: a thin layer over the library. Each subcommand maps to one library call;
 * long work shows a progress bar fed by the library's onProgress.
 */
import { Command } from 'commander';
import { basename } from 'node:path';
import { ZipmlError } from '../core/errors.js';
import { frameInfo, type Coder } from '../core/entropy/frame.js';
import { compressAsync, decompressAsync } from '../core/entropy/frame-parallel.js';
import { writeFileAtomic } from '../core/atomic-file.js';
import { kernelPath } from '../kernels/loader.js';
import { readContainer } from '../core/container.js';
import { progressBar } from './progress.js';
import { runDemo } from './demo.js';
import { intArg, readInput, mb } from './args.js';
import { registerVectorCommands } from './vectors.js';
import { registerServeCommand } from './serve.js';
import { registerTensorCommands, inspectTensorFile } from './tensors.js';
import { registerLlmCommands } from './llm.js';

const VERSION = '0.1.0';

const program = new Command();
program
  .name('zipml')
  .description('Compress the data ML systems store and move, and compute on the compressed form.')
  .version(VERSION)
  .showHelpAfterError();

program
  .command('demo')
  .description('a tour of every part that exists, on generated data, with measured figures')
  .option('--size <MB>', 'size of each generated input in MB', intArg(1, 512), 8)
  .option('--threads <n>', 'worker threads for the parallel step', intArg(1, 64))
  .action(async (o: { size: number; threads?: number }) => {
    await runDemo({ sizeMB: o.size, threads: o.threads });
  });

program
  .command('compress')
  .description('entropy-code a file into a zipml frame (Huffman or rANS per block)')
  .argument('<input>', 'file to compress')
  .option('-o, --output <file>', 'output file (default: <input>.zmf)')
  .option('--coder <coder>', 'huffman | rans | auto', 'huffman')
  .option('--block-log <n>', 'log2 of the block size (10..20)', intArg(10, 20), 18)
  .option('--threads <n>', 'worker threads (default: all cores)', intArg(1, 64))
  .option('-f, --force', 'replace an existing output file')
  .action(async (input: string, o: { output?: string; coder: string; blockLog: number; threads?: number; force?: boolean }) => {
    const data = await readInput(input);
    const out = o.output ?? `${input}.zmf`;
    const bar = progressBar(`compress ${basename(input)}`, data.length);
    const t0 = performance.now();
    const frame = await compressAsync(data, { coder: o.coder as Coder, blockSizeLog2: o.blockLog, threads: o.threads, onProgress: bar.update });
    const dt = (performance.now() - t0) / 1000;
    bar.stop();
    await writeFileAtomic(out, frame, { overwrite: o.force });
    console.log(`${input}: ${data.length} -> ${frame.length} bytes (ratio ${(data.length / Math.max(1, frame.length)).toFixed(3)}), ${mb(data.length / dt)} MB/s, kernels ${kernelPath()}; wrote ${out}`);
  });

program
  .command('decompress')
  .description('decode a zipml frame; the content checksum is verified')
  .argument('<input>', 'frame file')
  .option('-o, --output <file>', 'output file (default: <input> without .zmf)')
  .option('--threads <n>', 'worker threads (default: all cores)', intArg(1, 64))
  .option('--max-output <MB>', 'refuse frames that decode to more than this many MB', intArg(1, 1 << 22), 1024)
  .option('-f, --force', 'replace an existing output file')
  .action(async (input: string, o: { output?: string; threads?: number; maxOutput: number; force?: boolean }) => {
    const frame = await readInput(input);
    const out = o.output ?? (input.endsWith('.zmf') ? input.slice(0, -4) : `${input}.out`);
    const maxOutputSize = o.maxOutput * 1024 * 1024;
    const info = frameInfo(frame, { maxOutputSize });
    const bar = progressBar(`decompress ${basename(input)}`, info.contentSize);
    const t0 = performance.now();
    const data = await decompressAsync(frame, { threads: o.threads, maxOutputSize, onProgress: bar.update });
    const dt = (performance.now() - t0) / 1000;
    bar.stop();
    await writeFileAtomic(out, data, { overwrite: o.force });
    console.log(`${input}: ${frame.length} -> ${data.length} bytes, ${mb(data.length / dt)} MB/s, checksum ok; wrote ${out}`);
  });

program
  .command('inspect')
  .description('describe a model file, a packed model, a zipml container or an entropy frame')
  .argument('<file>')
  .action(async (file: string) => {
    if (await inspectTensorFile(file)) return;
    const bytes = await readInput(file);
    if (bytes[0] === 0x89) {
      const c = readContainer(bytes);
      console.log(JSON.stringify({ kind: c.kind, meta: c.meta, sections: c.sections.map((s) => ({ ...s, xxh32: s.xxh32.toString(16).padStart(8, '0') })) }, null, 2));
    } else {
      const info = frameInfo(bytes, { maxOutputSize: Number.MAX_SAFE_INTEGER });
      const types = ['raw', 'rle', 'huffman', 'rans'];
      const count: Record<string, number> = {};
      for (const b of info.blocks) count[types[b.type]!] = (count[types[b.type]!] ?? 0) + 1;
      console.log(JSON.stringify({ format: 'entropy frame', contentSize: info.contentSize, frameSize: info.frameSize, blockSize: info.blockSize, blocks: count }, null, 2));
    }
  });

registerVectorCommands(program);
registerServeCommand(program);
registerTensorCommands(program);
registerLlmCommands(program);

program
  .command('kernels')
  .description('which kernel path runs here (wasm-simd or reference)')
  .action(() => {
    console.log(kernelPath());
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ZipmlError) {
    console.error(`zipml: ${e.code}: ${e.message}`);
    process.exitCode = 2;
  } else {
    console.error(`zipml: internal error: ${(e as Error)?.stack ?? String(e)}`);
    process.exitCode = 70;
  }
});
