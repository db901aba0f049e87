/**
 * Byte histograms and the order-0 entropy bound that the entropy coders are measured against.
 */

/** Counts of each byte value in `data`. Four sub-histograms break the store-to-load dependency. */
export function histogram(data: Uint8Array, out: Uint32Array = new Uint32Array(256)): Uint32Array {
  out.fill(0);
  const c1 = new Uint32Array(256), c2 = new Uint32Array(256), c3 = new Uint32Array(256);
  const n = data.length;
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    out[data[i]!]!++;
    c1[data[i + 1]!]!++;
    c2[data[i + 2]!]!++;
    c3[data[i + 3]!]!++;
  }
  for (; i < n; i++) out[data[i]!]!++;
  for (let s = 0; s < 256; s++) out[s] = out[s]! + c1[s]! + c2[s]! + c3[s]!;
  return out;
}

/** Shannon order-0 entropy of a histogram, in bits for the whole input. */
export function entropyBits(hist: Uint32Array): number {
  let total = 0;
  for (let s = 0; s < hist.length; s++) total += hist[s]!;
  if (total === 0) return 0;
  let bits = 0;
  for (let s = 0; s < hist.length; s++) {
    const c = hist[s]!;
    if (c > 0) bits -= c * Math.log2(c / total);
  }
  return bits;
}

/** Order-0 bound in bytes: ceil(entropy bits / 8). */
export function order0Bytes(data: Uint8Array): number {
  return Math.ceil(entropyBits(histogram(data)) / 8);
}
