/**
 * `npm run fuzz [-- --seconds N] [--seed S]`: long mutation fuzzing of every decoder and parser in
 * core, round-robin, until the time is up. The CI tests run 10,000 mutations per decoder; this is
 * for hours. A failing input is written to .fuzz-crashes/ with the decoder's name and the seed.
 *
 * Property, per decoder: a ZipmlError, or the exact original (decoders behind a checksum), or an
 * output of the declared size (block decoders, which carry no checksum of their own); never
 * another exception and never a hang (each call is timed).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { ZipmlError } from '../../src/core/errors.js';
import { compress, decompress } from '../../src/core/entropy/frame.js';
import { huffmanEncodeBlock, huffmanDecodeBlock } from '../../src/core/entropy/huffman.js';
import { ransEncodeBlock, ransDecodeBlock } from '../../src/core/entropy/rans.js';
import { ContainerBuilder, readContainer } from '../../src/core/container.js';
import { readVarint, writeVarint } from '../../src/core/bits.js';
import { Rng } from '../util/rng.js';
import { mutate, bytesEqual } from '../util/mutate.js';

const argv = process.argv.slice(2);
const arg = (name: string, def: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const seconds = arg('seconds', 60);
const seed = arg('seed', Date.now() % 1e9);

function sample(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  const spread = 1 + rng.int(12);
  for (let i = 0; i < n; i++) out[i] = Math.floor(-Math.log2(1 - rng.float()) * spread) & 255;
  return out;
}

interface Target {
  name: string;
  make(rng: Rng): { valid: Uint8Array; check(m: Uint8Array): void };
}

const expectSize = (dst: Uint8Array, decode: (p: Uint8Array, d: Uint8Array) => void) => (m: Uint8Array) => decode(m, dst);

const targets: Target[] = [
  ...(['huffman', 'rans', 'auto'] as const).map((coder) => ({
    name: `frame-${coder}`,
    make(rng: Rng) {
      const data = sample(rng, 1 + rng.int(8000));
      const valid = compress(data, { coder, blockSizeLog2: 10 + rng.int(3) });
      return { valid, check(m: Uint8Array) {
        const out = decompress(m, { maxOutputSize: 1 << 20 });
        if (!bytesEqual(out, data)) throw new Error('frame decoded to wrong content without an error');
      } };
    },
  })),
  {
    name: 'huffman-block',
    make(rng) {
      const data = sample(rng, 2 + rng.int(6000));
      const valid = huffmanEncodeBlock(data, { maxCodeLength: 8 + rng.int(5) }) ?? new Uint8Array([0]);
      return { valid, check: expectSize(new Uint8Array(data.length), huffmanDecodeBlock) };
    },
  },
  {
    name: 'rans-block',
    make(rng) {
      const data = sample(rng, 2 + rng.int(6000));
      const valid = ransEncodeBlock(data, { scaleBits: 10 + rng.int(6) }) ?? new Uint8Array([0]);
      return { valid, check: expectSize(new Uint8Array(data.length), ransDecodeBlock) };
    },
  },
  {
    name: 'container',
    make(rng) {
      const b = new ContainerBuilder();
      const parts: Array<[string, Uint8Array]> = [];
      for (let i = 0, n = 1 + rng.int(4); i < n; i++) parts.push([`s${i}`, rng.bytes(rng.int(500))]);
      for (const [name, d] of parts) b.addSection(name, d, { i: name });
      const valid = b.finish('fuzz', { seed });
      return { valid, check(m: Uint8Array) {
        const c = readContainer(m);
        for (const [name, d] of parts) if (!bytesEqual(c.section(name), d)) throw new Error('container section changed without an error');
      } };
    },
  },
  {
    name: 'varints',
    make(rng) {
      const buf = new Uint8Array(400);
      let pos = 0;
      for (let i = 0; i < 40; i++) pos = writeVarint(buf, pos, Math.floor(rng.float() * 2 ** (1 + rng.int(52))));
      const valid = buf.slice(0, pos);
      return { valid, check(m: Uint8Array) {
        for (let p = 0; p < m.length; ) p = readVarint(m, p).next;
      } };
    },
  },
];

const rng = new Rng(seed);
const counts = new Map<string, number>();
const deadline = Date.now() + seconds * 1000;
let failures = 0;
console.log(`fuzzing ${targets.map((t) => t.name).join(', ')} for ${seconds} s, seed ${seed}`);
outer: while (Date.now() < deadline) {
  for (const t of targets) {
    const { valid, check } = t.make(rng);
    for (let i = 0; i < 500; i++) {
      const { data, kind } = mutate(valid, rng);
      const t0 = performance.now();
      try {
        check(data);
      } catch (e) {
        if (!(e instanceof ZipmlError)) {
          failures++;
          mkdirSync('.fuzz-crashes', { recursive: true });
          const file = `.fuzz-crashes/${t.name}-${seed}-${counts.get(t.name) ?? 0}-${i}.bin`;
          writeFileSync(file, data);
          console.error(`FAIL ${t.name} (${kind}): ${(e as Error).message}; input saved to ${file}`);
        }
      }
      const ms = performance.now() - t0;
      if (ms > 1000) {
        failures++;
        console.error(`SLOW ${t.name} (${kind}): ${ms.toFixed(0)} ms on a ${data.length}-byte input`);
      }
    }
    counts.set(t.name, (counts.get(t.name) ?? 0) + 500);
    if (Date.now() >= deadline) break outer;
  }
}
for (const [name, n] of counts) console.log(`${name}: ${n.toLocaleString()} mutated inputs`);
console.log(failures === 0 ? 'no failures' : `${failures} failures`);
process.exitCode = failures === 0 ? 0 : 1;
