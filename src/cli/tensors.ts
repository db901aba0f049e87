/**
 * `zipml pack`, `zipml unpack`, and the model-file half of `zipml inspect`: thin layers over
 * src/tensors (packFile / unpackFile / inspectModel / inspectPacked).
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { basename } from 'node:path';
import { stat } from 'node:fs/promises';
import { ZipmlError } from '../core/errors.js';
import { PREAMBLE_BYTES, CONTAINER_MAGIC } from '../core/container.js';
import { fileSource, readModelLayout } from '../tensors/layout.js';
import { packFile, unpackFile, filePackedReader } from '../tensors/pack/files.js';
import { isCompactPacked } from '../tensors/pack/compact.js';
import { openPacked, readPackedTensor } from '../tensors/pack/unpack.js';
import { ContainerFile } from '../core/container-file.js';
import { inspectModel, inspectPacked, type TensorStats } from '../tensors/pack/inspect.js';
import { PACK_KIND } from '../tensors/pack/format.js';
import { kernelPath } from '../kernels/loader.js';
import { progressBar } from './progress.js';

function threadsArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError('expected an integer in 1..256');
  return n;
}

const mbps = (bytes: number, ms: number) => (bytes / 1e3 / Math.max(ms, 1e-3)).toFixed(0);

export function registerTensorCommands(program: Command): void {
  program
    .command('pack')
    .description('losslessly pack a model file (safetensors, GGUF, ONNX, npy, llama2.c, TFLite, ...) by dtype-aware byte grouping and entropy coding')
    .argument('<input>', 'model file')
    .option('-o, --output <file>', 'output file (default: <input>.zml)')
    .option('--base <file>', 'earlier checkpoint: store tensors as XOR deltas against it')
    .option('--threads <n>', 'worker threads (default: all cores)', threadsArg)
    .option('--format <format>', "container (streaming, smallest) or safetensors (standard readers list the tensors; built in memory)", 'container')
    .option('--chunk-kib <n>', 'chunk size in KiB (4..1024)', threadsArg)
    .option('--max', 'also try LZ on every chunk, int8 lanes in 1 MiB chunks (smaller on some FP16/int8 files; packs at under 1 MB/s, unpacks at a few MB/s)')
    .option('--no-lz', 'never use LZ (fastest unpack everywhere)')
    .option('-f, --force', 'replace an existing output file')
    .action(async (input: string, o: { output?: string; base?: string; threads?: number; format: string; chunkKib?: number; max?: boolean; lz: boolean; force?: boolean }) => {
      if (o.format !== 'container' && o.format !== 'safetensors') throw new ZipmlError('E_ARG', `--format ${o.format}: expected container or safetensors`);
      const out = o.output ?? (o.format === 'safetensors' ? `${input}.zml.safetensors` : `${input}.zml`);
      const size = (await stat(input).catch((e: Error) => { throw new ZipmlError('E_IO', `cannot read ${input}: ${e.message}`); })).size;
      const bar = progressBar(`pack ${basename(input)}`, size);
      const t0 = performance.now();
      const r = await packFile(input, out, { format: o.format as 'container' | 'safetensors', overwrite: o.force, threads: o.threads, basePath: o.base, chunkSize: o.chunkKib ? o.chunkKib * 1024 : undefined, effort: o.max ? 'max' : 'fast', ...(o.lz ? {} : { lzLevel: 0 }), onProgress: bar.update });
      bar.stop();
      const dt = performance.now() - t0;
      const outSize = (await stat(out)).size;
      if (!('meta' in r)) {
        console.log(`${input}: ${size} -> ${outSize} bytes (ratio ${(outSize / Math.max(1, size)).toFixed(4)}), safetensors-compatible, ${mbps(size, dt)} MB/s; wrote ${out}`);
        return;
      }
      const tensors = r.meta.tensors;
      const count = (e: string) => tensors.filter((t) => t.enc === e).length;
      console.log(
        `${input} (${r.meta.source.format}, ${tensors.length} tensors): ${size} -> ${outSize} bytes (ratio ${(outSize / Math.max(1, size)).toFixed(4)}), ` +
        `${mbps(size, dt)} MB/s, kernels ${kernelPath()}; narrowed ${count('bf16') + count('f16')}, duplicates ${count('dup')}, deltas ${count('xor')}; wrote ${out}`,
      );
    });

  program
    .command('unpack')
    .description('restore a packed model file byte for byte (SHA-256 checked)')
    .argument('<input>', 'packed file')
    .option('-o, --output <file>', 'output file (default: <input> without .zml)')
    .option('--base <file>', 'the base checkpoint the file was packed against')
    .option('--threads <n>', 'worker threads (default: all cores)', threadsArg)
    .option('--no-verify', 'skip the SHA-256 check (chunk and whole-file XXH32 are still checked)')
    .option('-f, --force', 'replace an existing output file')
    .action(async (input: string, o: { output?: string; base?: string; threads?: number; verify: boolean; force?: boolean }) => {
      const out = o.output ?? (input.endsWith('.zml') ? input.slice(0, -4) : input.endsWith('.zml.safetensors') ? input.slice(0, -16) : `${input}.out`);
      const bar = progressBar(`unpack ${basename(input)}`, 1);
      const t0 = performance.now();
      const meta = await unpackFile(input, out, { overwrite: o.force, threads: o.threads, basePath: o.base, verify: o.verify, onProgress: bar.update });
      bar.stop();
      const dt = performance.now() - t0;
      console.log(`${input}: -> ${meta.source.size} bytes, ${mbps(meta.source.size, dt)} MB/s, ${o.verify ? 'SHA-256' : 'XXH32'} ok; wrote ${out}`);
    });
}

function table(rows: TensorStats[]): string {
  const lines = ['tensor\tdtype\tshape\tbytes\tstored\tratio\tbits/byte per stream'];
  for (const r of rows) {
    lines.push([r.name, r.dtype, `[${r.shape.join(',')}]`, r.bytes, r.enc ?? '', r.ratio.toFixed(4), r.streamBits.map((b) => b.toFixed(2)).join(' ')].join('\t'));
  }
  return lines.join('\n');
}

/**
 * `zipml inspect` for model files and packed model files; returns false when `file` is neither
 * (main.ts then describes it as a container or entropy frame).
 */
export async function inspectTensorFile(file: string): Promise<boolean> {
  const src = await fileSource(file);
  try {
    const head = await src.read(0, Math.min(PREAMBLE_BYTES, src.size));
    const compact = isCompactPacked(head);
    if (compact || (head.length >= 8 && CONTAINER_MAGIC.every((b, i) => head[i] === b))) {
      if (!compact) {
        // Other containers (indexes, quantized models, ...) are described by main.ts.
        const c = await ContainerFile.open(file);
        const kind = c.kind;
        await c.close();
        if (kind !== PACK_KIND) return false;
      }
      const r = await filePackedReader(file);
      try {
        if (r.kind !== PACK_KIND) return false;
        const p = await openPacked(r);
        const rows = await inspectPacked(p, async (i) => (await readPackedTensor(r, p.meta.tensors[i]!.name)).bytes);
        console.log(`packed ${p.meta.source.format} model '${p.meta.source.name}': ${p.meta.source.size} bytes, ${p.chunks.length} chunks, lanes ${p.meta.lanes.map((l) => l.name).join(', ')}, sha256 ${p.meta.source.sha256}`);
        console.log(table(rows));
        return true;
      } finally {
        await r.close();
      }
    }
    const layout = await readModelLayout(src, { fileName: basename(file) });
    if (layout.format === 'unknown') return false;
    console.log(`${layout.format} model: ${layout.fileSize} bytes, ${layout.tensors.length} tensors`);
    console.log(table(await inspectModel(src, layout)));
    return true;
  } finally {
    await src.close();
  }
}
