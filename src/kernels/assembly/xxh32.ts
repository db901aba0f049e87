// xxHash32 (Yann Collet's XXH32 spec) stripe loop: the part of the hash that sees every byte.
// The TypeScript side (src/core/checksum.ts) handles the tail and the final avalanche, so this
// kernel only advances the four lane accumulators over whole 16-byte stripes.

const P1: u32 = 2654435761;
const P2: u32 = 2246822519;

export function heapBase(): usize {
  return __heap_base;
}

@inline
function round(acc: u32, input: u32): u32 {
  acc += input * P2;
  acc = rotl<u32>(acc, 13);
  return acc * P1;
}

/** Advances the lanes stored at `state` (4 x u32) over `stripes` 16-byte stripes at `src`. */
export function stripes(state: usize, src: usize, stripes: usize): void {
  let v1 = load<u32>(state, 0);
  let v2 = load<u32>(state, 4);
  let v3 = load<u32>(state, 8);
  let v4 = load<u32>(state, 12);
  const end = src + (stripes << 4);
  while (src < end) {
    v1 = round(v1, load<u32>(src, 0));
    v2 = round(v2, load<u32>(src, 4));
    v3 = round(v3, load<u32>(src, 8));
    v4 = round(v4, load<u32>(src, 12));
    src += 16;
  }
  store<u32>(state, v1, 0);
  store<u32>(state, v2, 4);
  store<u32>(state, v3, 8);
  store<u32>(state, v4, 12);
}
