// Block-size variants of the fast-scan accumulate kernel, for the layout choice in
// docs/fastscan.md: B = 16·G rows per block (G = 1, 2, 4), generated as AssemblyScript with the
// same inner loop as src/kernels/assembly/fastscan.ts (G = 2 is the shipped layout), compiled in
// memory with the project's AssemblyScript, and a packer for each layout.
import asc from 'assemblyscript/asc';

function source(G) {
  const lines = [];
  const zero = (v) => `let ${v} = i16x8.splat(0);`;
  for (let g = 0; g < G; g++) lines.push(zero(`l${g}`), zero(`h${g}`));
  const body = [];
  for (let g = 0; g < G; g++) {
    body.push(
      `const v${g} = v128.load(c, ${16 * g});`,
      `const a${g} = i8x16.swizzle(ta, v128.and(v${g}, mask));`,
      `const b${g} = i8x16.swizzle(tb, i8x16.shr_u(v${g}, 4));`,
      `l${g} = i16x8.add(l${g}, i16x8.add(a${g}, b${g}));`,
      `h${g} = i16x8.add(h${g}, i16x8.add(i16x8.shr_u(a${g}, 8), i16x8.shr_u(b${g}, 8)));`,
    );
  }
  const tail = [];
  for (let g = 0; g < G; g++) {
    tail.push(
      `const e${g} = i16x8.sub(l${g}, i16x8.shl(h${g}, 8));`,
      `v128.store(o, i8x16.shuffle(e${g}, h${g}, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23), ${32 * g});`,
      `v128.store(o, i8x16.shuffle(e${g}, h${g}, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31), ${32 * g + 16});`,
    );
  }
  return `
export function heapBase(): usize { return __heap_base; }
export function acc(lut: usize, codes: usize, nb: i32, M2: i32, out: usize): void {
  const mask = i8x16.splat(15);
  const bb = <usize>(M2 * ${8 * G});
  for (let b = 0; b < nb; b++) {
    const base = codes + <usize>b * bb;
    ${lines.join('\n    ')}
    for (let p = 0; p < (M2 >> 1); p++) {
      const c = base + <usize>(p * ${16 * G});
      const ta = v128.load(lut + (<usize>p << 5)), tb = v128.load(lut + (<usize>p << 5), 16);
      ${body.join('\n      ')}
    }
    const o = out + (<usize>b << ${Math.log2(32 * G)});
    ${tail.join('\n    ')}
  }
}`;
}

/** Compiles the G-group variant; returns { acc, memory, heapBase }. */
export async function compileVariant(G) {
  let binary = null;
  const stderr = [];
  const { error } = await asc.main(['v.ts', '--outFile', 'v.wasm', '-O3', '--noAssert', '--runtime', 'stub', '--enable', 'simd', '--initialMemory', '2'], {
    readFile: (name) => (name === 'v.ts' ? source(G) : null),
    writeFile: (name, contents) => {
      if (name.endsWith('.wasm')) binary = contents;
    },
    listFiles: () => [],
    stderr: { write: (s) => stderr.push(String(s)) },
    stdout: { write: () => {} },
  });
  if (error || !binary) throw new Error(`variant G=${G}: ${error?.message ?? 'no output'} ${stderr.join('')}`);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(binary), { env: { abort() { throw new Error('abort'); } } });
  return inst.exports;
}

/** Packs row-major 4-bit codes (M even, M/2 bytes per row) into blocks of 16·G rows. */
export function packVariant(codes, n, M, G) {
  const B = 16 * G, cs = M / 2, bb = (B * M) / 2;
  const nb = Math.ceil(n / B);
  const out = new Uint8Array(nb * bb);
  for (let r = 0; r < n; r++) {
    const o = Math.floor(r / B) * bb + (r % B);
    for (let p = 0; p < cs; p++) out[o + B * p] = codes[r * cs + p];
  }
  return { packed: out, nblocks: nb };
}
