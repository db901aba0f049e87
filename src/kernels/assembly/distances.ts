// Float distance kernels for zipml/vectors: one query against n rows (squared L2, inner product),
// row norms, and the blocked all-pairs kernel that k-NN and k-means spend their time in. The TS
// drivers and the plain-TS references are in src/vectors/distances.ts.
//
// The blocked kernel is a small GEMM: rows of the "column" side (centroids, base vectors) are
// packed in panels of 8, interleaved by dimension (panel p holds rows 8p..8p+7, and for each
// dimension t the 8 values c[8p+l][t] are contiguous), so one step of the inner loop loads two
// f32x4 of the panel, splats one value from each of 4 query rows, and does 8 independent
// multiply-adds into 8 accumulators (4 rows x 8 columns). WebAssembly SIMD has no fused
// multiply-add, so mul + add is the floor: 2 vector ops per 4 lanes. 8 accumulators plus 2 panel
// registers and a splat stay inside the 15 XMM registers V8 allocates, and 8 independent chains
// hide the add latency. Every (query, column) pair sees the same operation sequence wherever it
// sits in a tile or a window, so results do not depend on blocking or thread count.

export function heapBase(): usize {
  return __heap_base;
}

// ---------------------------------------------------------------------------------------------
// One query against n rows. Four f32x4 accumulators over 16 floats per step, then 4-float steps,
// then a scalar tail; rows are row-major with stride d floats.

@inline
function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// The two reductions share one loop; the type argument picks the term at compile time:
// Dot (u8) sums a * b, Sq (u16) sums (a - b)^2.
type Dot = u8;
type Sq = u16;

@inline
function term<T>(x: v128, y: v128): v128 {
  if (sizeof<T>() == 2) {
    const e = f32x4.sub(x, y);
    return f32x4.mul(e, e);
  }
  return f32x4.mul(x, y);
}

@inline
function termScalar<T>(x: f32, y: f32): f32 {
  if (sizeof<T>() == 2) return (x - y) * (x - y);
  return x * y;
}

@inline
function reduce<T>(a: usize, b: usize, d: usize): f32 {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
  let t: usize = 0;
  const d16 = d & ~(<usize>15);
  for (; t < d16; t += 16) {
    const p = a + (t << 2), q = b + (t << 2);
    s0 = f32x4.add(s0, term<T>(v128.load(p, 0), v128.load(q, 0)));
    s1 = f32x4.add(s1, term<T>(v128.load(p, 16), v128.load(q, 16)));
    s2 = f32x4.add(s2, term<T>(v128.load(p, 32), v128.load(q, 32)));
    s3 = f32x4.add(s3, term<T>(v128.load(p, 48), v128.load(q, 48)));
  }
  const d4 = d & ~(<usize>3);
  for (; t < d4; t += 4) s0 = f32x4.add(s0, term<T>(v128.load(a + (t << 2)), v128.load(b + (t << 2))));
  let s = hsum(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)));
  for (; t < d; t++) s += termScalar<T>(load<f32>(a + (t << 2)), load<f32>(b + (t << 2)));
  return s;
}

@inline
function dot(a: usize, b: usize, d: usize): f32 {
  return reduce<Dot>(a, b, d);
}

/** out[i] = ||q - x_i||^2 for the n rows at x. */
export function l2sqrN(q: usize, x: usize, n: usize, d: usize, out: usize): void {
  const stride = d << 2;
  for (let i: usize = 0; i < n; i++) store<f32>(out + (i << 2), reduce<Sq>(q, x + i * stride, d));
}

/** out[i] = <q, x_i> for the n rows at x. */
export function ipN(q: usize, x: usize, n: usize, d: usize, out: usize): void {
  const stride = d << 2;
  for (let i: usize = 0; i < n; i++) store<f32>(out + (i << 2), dot(q, x + i * stride, d));
}

/** out[i] = ||x_i||^2. */
export function norms(x: usize, n: usize, d: usize, out: usize): void {
  const stride = d << 2;
  for (let i: usize = 0; i < n; i++) {
    const r = x + i * stride;
    store<f32>(out + (i << 2), dot(r, r, d));
  }
}

/** Scales each of the n rows at x to unit L2 norm in place; zero rows stay zero. */
export function normalize(x: usize, n: usize, d: usize): void {
  const stride = d << 2;
  for (let i: usize = 0; i < n; i++) {
    const r = x + i * stride;
    const s = dot(r, r, d);
    if (s == 0) continue;
    const inv = f32x4.splat(<f32>(1.0 / Math.sqrt(<f64>s)));
    let t: usize = 0;
    const d4 = d & ~(<usize>3);
    for (; t < d4; t += 4) v128.store(r + (t << 2), f32x4.mul(v128.load(r + (t << 2)), inv));
    const sc = f32x4.extract_lane(inv, 0);
    for (; t < d; t++) store<f32>(r + (t << 2), load<f32>(r + (t << 2)) * sc);
  }
}

// ---------------------------------------------------------------------------------------------
// Blocked all-pairs.

/** Packs the n rows at src (stride d) into ceil(n/8) panels of 8 x d floats at dst; pad rows are 0. */
export function pack(src: usize, n: usize, d: usize, dst: usize): void {
  const panels = (n + 7) >> 3;
  const stride = d << 2;
  for (let p: usize = 0; p < panels; p++) {
    const out = dst + p * (d << 5);
    const r0 = p << 3;
    const full = r0 + 8 <= n;
    if (full) {
      // Transpose 8 rows x 4 dims at a time: 4-float loads from each row, shuffled into dim order.
      const a0 = src + r0 * stride;
      let t: usize = 0;
      const d4 = d & ~(<usize>3);
      for (; t < d4; t += 4) {
        const o = t << 2;
        const x0 = v128.load(a0 + o);
        const x1 = v128.load(a0 + stride + o);
        const x2 = v128.load(a0 + 2 * stride + o);
        const x3 = v128.load(a0 + 3 * stride + o);
        const x4 = v128.load(a0 + 4 * stride + o);
        const x5 = v128.load(a0 + 5 * stride + o);
        const x6 = v128.load(a0 + 6 * stride + o);
        const x7 = v128.load(a0 + 7 * stride + o);
        // 4x4 transposes of (x0..x3) and (x4..x7).
        const l01 = v128.shuffle<i32>(x0, x1, 0, 4, 1, 5), h01 = v128.shuffle<i32>(x0, x1, 2, 6, 3, 7);
        const l23 = v128.shuffle<i32>(x2, x3, 0, 4, 1, 5), h23 = v128.shuffle<i32>(x2, x3, 2, 6, 3, 7);
        const l45 = v128.shuffle<i32>(x4, x5, 0, 4, 1, 5), h45 = v128.shuffle<i32>(x4, x5, 2, 6, 3, 7);
        const l67 = v128.shuffle<i32>(x6, x7, 0, 4, 1, 5), h67 = v128.shuffle<i32>(x6, x7, 2, 6, 3, 7);
        const w = out + (t << 5);
        v128.store(w, v128.shuffle<i64>(l01, l23, 0, 2), 0);
        v128.store(w, v128.shuffle<i64>(l45, l67, 0, 2), 16);
        v128.store(w, v128.shuffle<i64>(l01, l23, 1, 3), 32);
        v128.store(w, v128.shuffle<i64>(l45, l67, 1, 3), 48);
        v128.store(w, v128.shuffle<i64>(h01, h23, 0, 2), 64);
        v128.store(w, v128.shuffle<i64>(h45, h67, 0, 2), 80);
        v128.store(w, v128.shuffle<i64>(h01, h23, 1, 3), 96);
        v128.store(w, v128.shuffle<i64>(h45, h67, 1, 3), 112);
      }
      for (; t < d; t++) {
        for (let l: usize = 0; l < 8; l++) store<f32>(out + (t << 5) + (l << 2), load<f32>(src + (r0 + l) * stride + (t << 2)));
      }
    } else {
      for (let t: usize = 0; t < d; t++) {
        for (let l: usize = 0; l < 8; l++) {
          const r = r0 + l;
          store<f32>(out + (t << 5) + (l << 2), r < n ? load<f32>(src + r * stride + (t << 2)) : 0);
        }
      }
    }
  }
}

// Tile results of the last microkernel call: 4 rows x 8 columns of inner products.
const ACC: usize = memory.data(4 * 8 * 4, 16);

/** Inner products of the 4 rows at x (stride bytes apart) with one packed panel, into ACC. */
@inline
function micro4(x: usize, stride: usize, p: usize, d: usize): void {
  let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
  let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
  let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
  let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
  const x1 = x + stride, x2 = x1 + stride, x3 = x2 + stride;
  const end = x + (d << 2);
  let q = p;
  for (let o = x; o < end; o += 4) {
    const c0 = v128.load(q, 0);
    const c1 = v128.load(q, 16);
    const off = o - x;
    let s = v128.load32_splat(o);
    a00 = f32x4.add(a00, f32x4.mul(s, c0));
    a01 = f32x4.add(a01, f32x4.mul(s, c1));
    s = v128.load32_splat(x1 + off);
    a10 = f32x4.add(a10, f32x4.mul(s, c0));
    a11 = f32x4.add(a11, f32x4.mul(s, c1));
    s = v128.load32_splat(x2 + off);
    a20 = f32x4.add(a20, f32x4.mul(s, c0));
    a21 = f32x4.add(a21, f32x4.mul(s, c1));
    s = v128.load32_splat(x3 + off);
    a30 = f32x4.add(a30, f32x4.mul(s, c0));
    a31 = f32x4.add(a31, f32x4.mul(s, c1));
    q += 32;
  }
  v128.store(ACC, a00, 0);
  v128.store(ACC, a01, 16);
  v128.store(ACC, a10, 32);
  v128.store(ACC, a11, 48);
  v128.store(ACC, a20, 64);
  v128.store(ACC, a21, 80);
  v128.store(ACC, a30, 96);
  v128.store(ACC, a31, 112);
}

/** The same for one row (the remainder when a block's row count is not a multiple of 4). */
@inline
function micro1(x: usize, p: usize, d: usize): void {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
  const end = x + (d << 2);
  let q = p;
  for (let o = x; o < end; o += 4) {
    const s = v128.load32_splat(o);
    a0 = f32x4.add(a0, f32x4.mul(s, v128.load(q, 0)));
    a1 = f32x4.add(a1, f32x4.mul(s, v128.load(q, 16)));
    q += 32;
  }
  v128.store(ACC, a0, 0);
  v128.store(ACC, a1, 16);
}

/** ACC = inner products of `rows` (4 or 1) rows at x with one packed panel. */
@inline
function tile(x: usize, rows: usize, stride: usize, panel: usize, d: usize): void {
  if (rows == 4) micro4(x, stride, panel, d);
  else micro1(x, panel, d);
}

/**
 * The value of pair (i, j) is rowAdd[i] + colAdd[j] + alpha * <x_i, c_j>: with squared norms and
 * alpha = -2 it is the squared L2 distance; with zeros and alpha = -1 it is minus the inner
 * product, so "smaller is closer" holds for both metrics.
 *
 * values(): writes the nx x nc block of values to out (row i at out + i * ldo floats).
 * x: nx rows (stride d); packed: ceil(nc/8) panels from pack(); colAdd: nc floats padded to a
 * multiple of 8; rowAdd: nx floats.
 */
export function values(
  x: usize, nx: usize, d: usize, packed: usize, nc: usize, rowAdd: usize, colAdd: usize, alpha: f32,
  out: usize, ldo: usize,
): void {
  const stride = d << 2;
  const panels = (nc + 7) >> 3;
  const av = f32x4.splat(alpha);
  const nx4 = nx & ~(<usize>3);
  for (let i: usize = 0; i < nx; ) {
    const rows: usize = i < nx4 ? 4 : 1;
    for (let p: usize = 0; p < panels; p++) {
      tile(x + i * stride, rows, stride, packed + p * (d << 5), d);
      const j = p << 3;
      const cv0 = v128.load(colAdd + (j << 2), 0);
      const cv1 = v128.load(colAdd + (j << 2), 16);
      const fullPanel = j + 8 <= nc;
      for (let r: usize = 0; r < rows; r++) {
        const ra = f32x4.splat(load<f32>(rowAdd + ((i + r) << 2)));
        const v0 = f32x4.add(f32x4.add(ra, cv0), f32x4.mul(av, v128.load(ACC + (r << 5), 0)));
        const v1 = f32x4.add(f32x4.add(ra, cv1), f32x4.mul(av, v128.load(ACC + (r << 5), 16)));
        const o = out + (((i + r) * ldo + j) << 2);
        if (fullPanel) {
          v128.store(o, v0, 0);
          v128.store(o, v1, 16);
        } else {
          v128.store(ACC + (r << 5), v0, 0);
          v128.store(ACC + (r << 5), v1, 16);
          for (let l: usize = 0; j + l < nc; l++) store<f32>(o + (l << 2), load<f32>(ACC + (r << 5) + (l << 2)));
        }
      }
    }
    i += rows;
  }
}

/**
 * argmin(): for each of the nx rows, folds colAdd[j] + alpha * <x_i, c_j> over this block's
 * columns into a running per-lane minimum: best + 16 * i holds 4 f32 minima, bestIdx + 16 * i
 * their 4 i32 column ids (j0 + j) and second + 16 * i the 4 runner-up values; lane l sees
 * columns j = l mod 4 in increasing order and keeps the first of equal values, so argminFinish()
 * can break ties by the smaller id. Pad columns must have colAdd = +Infinity.
 */
export function argmin(
  x: usize, nx: usize, d: usize, packed: usize, nc: usize, colAdd: usize, alpha: f32, j0: i32,
  best: usize, bestIdx: usize, second: usize,
): void {
  const stride = d << 2;
  const panels = (nc + 7) >> 3;
  const av = f32x4.splat(alpha);
  const nx4 = nx & ~(<usize>3);
  const lane = i32x4(0, 1, 2, 3);
  for (let i: usize = 0; i < nx; ) {
    const rows: usize = i < nx4 ? 4 : 1;
    for (let p: usize = 0; p < panels; p++) {
      tile(x + i * stride, rows, stride, packed + p * (d << 5), d);
      const j = p << 3;
      const cv0 = v128.load(colAdd + (j << 2), 0);
      const cv1 = v128.load(colAdd + (j << 2), 16);
      const id0 = i32x4.add(i32x4.splat(j0 + <i32>j), lane);
      const id1 = i32x4.add(id0, i32x4.splat(4));
      for (let r: usize = 0; r < rows; r++) {
        const o = (i + r) << 4;
        let bv = v128.load(best + o);
        let bi = v128.load(bestIdx + o);
        let sv = v128.load(second + o);
        const v0 = f32x4.add(cv0, f32x4.mul(av, v128.load(ACC + (r << 5), 0)));
        const v1 = f32x4.add(cv1, f32x4.mul(av, v128.load(ACC + (r << 5), 16)));
        let m = f32x4.lt(v0, bv);
        sv = v128.bitselect(bv, f32x4.min(sv, v0), m);
        bv = v128.bitselect(v0, bv, m);
        bi = v128.bitselect(id0, bi, m);
        m = f32x4.lt(v1, bv);
        sv = v128.bitselect(bv, f32x4.min(sv, v1), m);
        bv = v128.bitselect(v1, bv, m);
        bi = v128.bitselect(id1, bi, m);
        v128.store(best + o, bv);
        v128.store(bestIdx + o, bi);
        v128.store(second + o, sv);
      }
    }
    i += rows;
  }
}

/** Sets the running minima of n rows to +Infinity with id -1. */
export function argminInit(n: usize, best: usize, bestIdx: usize, second: usize): void {
  const inf = f32x4.splat(Infinity);
  const none = i32x4.splat(-1);
  for (let i: usize = 0; i < n; i++) {
    v128.store(best + (i << 4), inf);
    v128.store(bestIdx + (i << 4), none);
    v128.store(second + (i << 4), inf);
  }
}

/**
 * Reduces each row's 4 lanes to the smallest value (ties to the smaller id) and the runner-up:
 * the smaller of the winning lane's second value and the other lanes' best values.
 */
export function argminFinish(n: usize, best: usize, bestIdx: usize, second: usize, outVal: usize, outIdx: usize, outSecond: usize): void {
  for (let i: usize = 0; i < n; i++) {
    const o = i << 4;
    let w: usize = 0;
    let v = load<f32>(best + o);
    let id = load<i32>(bestIdx + o);
    for (let l: usize = 1; l < 4; l++) {
      const u = load<f32>(best + o + (l << 2));
      const k = load<i32>(bestIdx + o + (l << 2));
      if (k >= 0 && (u < v || (u == v && (k < id || id < 0)))) {
        v = u;
        id = k;
        w = l;
      }
    }
    let s = load<f32>(second + o + (w << 2));
    for (let l: usize = 0; l < 4; l++) {
      if (l != w) s = min<f32>(s, load<f32>(best + o + (l << 2)));
    }
    store<f32>(outVal + (i << 2), v);
    store<i32>(outIdx + (i << 2), id);
    store<f32>(outSecond + (i << 2), s);
  }
}

/**
 * out[i] = colAdd[a] + alpha * <x_i, c_a> for a = assign[i], with the inner product summed in
 * the order the blocked kernel uses for each (row, column) pair (one float32 accumulator, t = 0,
 * 1, ...), so the value is bit-identical to the one argmin() sees for that pair. c is the k x d
 * row-major centroid matrix. Four rows at a time keep four dependency chains in flight.
 */
export function assignedValues(x: usize, n: usize, d: usize, c: usize, colAdd: usize, alpha: f32, assign: usize, out: usize): void {
  const stride = d << 2;
  const n4 = n & ~(<usize>3);
  let i: usize = 0;
  for (; i < n4; i += 4) {
    const a0 = <usize>load<i32>(assign + (i << 2)), a1 = <usize>load<i32>(assign + (i << 2), 4);
    const a2 = <usize>load<i32>(assign + (i << 2), 8), a3 = <usize>load<i32>(assign + (i << 2), 12);
    const x0 = x + i * stride, x1 = x0 + stride, x2 = x1 + stride, x3 = x2 + stride;
    const c0 = c + a0 * stride, c1 = c + a1 * stride, c2 = c + a2 * stride, c3 = c + a3 * stride;
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (let t: usize = 0; t < stride; t += 4) {
      s0 += load<f32>(x0 + t) * load<f32>(c0 + t);
      s1 += load<f32>(x1 + t) * load<f32>(c1 + t);
      s2 += load<f32>(x2 + t) * load<f32>(c2 + t);
      s3 += load<f32>(x3 + t) * load<f32>(c3 + t);
    }
    store<f32>(out + (i << 2), load<f32>(colAdd + (a0 << 2)) + alpha * s0);
    store<f32>(out + (i << 2), load<f32>(colAdd + (a1 << 2)) + alpha * s1, 4);
    store<f32>(out + (i << 2), load<f32>(colAdd + (a2 << 2)) + alpha * s2, 8);
    store<f32>(out + (i << 2), load<f32>(colAdd + (a3 << 2)) + alpha * s3, 12);
  }
  for (; i < n; i++) {
    const a = <usize>load<i32>(assign + (i << 2));
    const xr = x + i * stride, cr = c + a * stride;
    let s: f32 = 0;
    for (let t: usize = 0; t < stride; t += 4) s += load<f32>(xr + t) * load<f32>(cr + t);
    store<f32>(out + (i << 2), load<f32>(colAdd + (a << 2)) + alpha * s);
  }
}
