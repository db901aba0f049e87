/**
 * SHA-256 of a stream fed in pieces. Node's crypto (native, SHA-NI where the CPU has it) when it is
 * there; elsewhere a plain-TS implementation of FIPS 180-4, because browsers' crypto.subtle only
 * hashes one whole buffer at a time and a packed model is unpacked piece by piece.
 */
export interface Sha256 {
  update(data: Uint8Array): void;
  /** Lowercase hex. */
  digest(): string;
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** FIPS 180-4 SHA-256 in plain TypeScript (the browser path; tests hold it to node:crypto). */
export class Sha256Reference implements Sha256 {
  private readonly h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  private readonly w = new Uint32Array(64);
  private readonly buf = new Uint8Array(64);
  private fill = 0;
  private total = 0;

  private block(b: Uint8Array, at: number): void {
    const w = this.w, h = this.h;
    for (let i = 0; i < 16; i++) w[i] = (b[at + 4 * i]! << 24) | (b[at + 4 * i + 1]! << 16) | (b[at + 4 * i + 2]! << 8) | b[at + 4 * i + 3]!;
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!, y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = w[i - 16]! + s0 + w[i - 7]! + s1;
    }
    let a = h[0]!, bb = h[1]!, c = h[2]!, d = h[3]!, e = h[4]!, f = h[5]!, g = h[6]!, hh = h[7]!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = bb; bb = a; a = (t1 + t2) | 0;
    }
    h[0]! += a; h[1]! += bb; h[2]! += c; h[3]! += d; h[4]! += e; h[5]! += f; h[6]! += g; h[7]! += hh;
  }

  update(data: Uint8Array): void {
    this.total += data.length;
    let i = 0;
    if (this.fill > 0) {
      const take = Math.min(64 - this.fill, data.length);
      this.buf.set(data.subarray(0, take), this.fill);
      this.fill += take;
      i = take;
      if (this.fill < 64) return;
      this.block(this.buf, 0);
      this.fill = 0;
    }
    for (; i + 64 <= data.length; i += 64) this.block(data, i);
    this.buf.set(data.subarray(i), 0);
    this.fill = data.length - i;
  }

  digest(): string {
    const bits = this.total * 8;
    const tail = new Uint8Array(this.fill < 56 ? 64 : 128);
    tail.set(this.buf.subarray(0, this.fill));
    tail[this.fill] = 0x80;
    const dv = new DataView(tail.buffer);
    dv.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    dv.setUint32(tail.length - 4, bits >>> 0);
    for (let at = 0; at < tail.length; at += 64) this.block(tail, at);
    return Array.from(this.h, (x) => x.toString(16).padStart(8, '0')).join('');
  }
}

type NodeCrypto = typeof import('node:crypto');
let nodeCrypto: NodeCrypto | null | undefined;

/** A new hasher: native in Node, the TS reference elsewhere. */
export async function createSha256(): Promise<Sha256> {
  if (nodeCrypto === undefined) {
    const g = globalThis as { process?: { versions?: { node?: string } } };
    nodeCrypto = g.process?.versions?.node ? await import('node:crypto').catch(() => null) : null;
  }
  if (!nodeCrypto) return new Sha256Reference();
  const h = nodeCrypto.createHash('sha256');
  return { update: (d) => void h.update(d), digest: () => h.digest('hex') };
}

import { ZipmlError } from '../../core/errors.js';
import { Xxh32 } from '../../core/checksum.js';

/** A SHA-256 whose digest arrives later: the hashing may run on another thread. */
export interface Sha256Async {
  update(data: Uint8Array): void;
  digest(): Promise<string>;
}

/** SHA-256 and XXH32 of the same bytes, both computed off the caller's thread where possible. */
export interface SourceHashes {
  update(data: Uint8Array): void;
  digest(): Promise<{ sha256: string; xxh32: number }>;
}

/**
 * Below this many bytes the hash runs inline: handing pieces to a thread and waiting for the
 * digest costs more than hashing them (native SHA-256 runs at ~1 GB/s here).
 */
export const SHA256_OFFLOAD_MIN = 512 << 10;

/**
 * Bytes reach the hashing thread through a ring of slots in shared memory: the caller copies into
 * the next slot (pages stay mapped, so the copy runs at memcpy speed) and marks it ready; the
 * thread takes slots in ring order, hashes them and frees them. Only Atomics pass between the
 * two: a postMessage per slot cost the caller more than the copy on this machine (a message
 * wakes the other thread through the event loop, and a loaded machine deschedules the sender).
 * Slot states: 0 free, 2 ready; per slot, the hash id, the byte count (-1: digest request) and
 * whether the hash also keeps an XXH32 (the packer's whole-source check; src/core/checksum.ts,
 * imported by the thread, so the caller need not run it).
 * A side notifies only when the other says it sleeps (WAITING flags; both sides store, then load,
 * with sequentially consistent Atomics, so a wake-up cannot be lost; waits are timed anyway).
 * Each update() posts every slot it fills, so no slot is held across an await and concurrent
 * hashes share the ring without waiting on each other.
 */
const SLOTS = 8;
const SLOT_BYTES = 2 << 20;
const READY = 2;
// Int32 indices after the slot states: the hashing thread waits / the caller waits.
const THREAD_WAITS = SLOTS;
const CALLER_WAITS = SLOTS + 1;

interface Digests {
  hex: string;
  xxh: number | null;
}

interface HashThread {
  /** Whether the thread loaded the XXH32 module. */
  xxh32: boolean;
  ring: Uint8Array;
  state: Int32Array;
  meta: Int32Array;
  /** Next slot to fill (the thread hashes them in this order). */
  next: number;
  /** Keeps the process alive until the digest asked for arrives (a hash abandoned midway holds nothing). */
  hold(): void;
  waiters: Map<number, { resolve(d: Digests): void; reject(e: Error): void }>;
  nextId: number;
}
let hashThread: Promise<HashThread | null> | undefined;

// Plain CommonJS evaluated in the worker: waits for the next slot, hashes it into the hash of its
// id, frees it; a digest request answers by message. The timed wait lets a terminating thread go.
const HASH_WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { slots, slotBytes } = workerData;
const ring = new Uint8Array(workerData.ring), state = new Int32Array(workerData.state), meta = new Int32Array(workerData.meta);
(async () => {
  const Xxh32 = await import(workerData.checksumUrl).then((m) => m.Xxh32, () => null);
  parentPort.postMessage({ ready: true, xxh32: Xxh32 !== null });
  const live = new Map();
  for (let next = 0; ; next = (next + 1) % slots) {
    let v;
    while ((v = Atomics.load(state, next)) !== ${READY}) {
      Atomics.store(state, ${THREAD_WAITS}, 1);
      if (Atomics.load(state, next) === v) Atomics.wait(state, next, v, 1000);
      Atomics.store(state, ${THREAD_WAITS}, 0);
    }
    const id = meta[3 * next], length = meta[3 * next + 1];
    let h = live.get(id);
    if (!h) { h = { sha: createHash('sha256'), xxh: meta[3 * next + 2] && Xxh32 ? new Xxh32() : null }; live.set(id, h); }
    if (length >= 0) {
      const bytes = ring.subarray(next * slotBytes, next * slotBytes + length);
      h.sha.update(bytes);
      h.xxh?.update(bytes);
    } else {
      live.delete(id);
      parentPort.postMessage({ id, hex: h.sha.digest('hex'), xxh: h.xxh ? h.xxh.digest() : null });
    }
    Atomics.store(state, next, 0);
    if (Atomics.load(state, ${CALLER_WAITS}) === 1) Atomics.notify(state, next);
  }
})();`;

async function startHashThread(): Promise<HashThread | null> {
  const g = globalThis as { process?: { versions?: { node?: string } } };
  if (!g.process?.versions?.node || typeof SharedArrayBuffer !== 'function') return null;
  try {
    const { Worker } = await import('node:worker_threads');
    const ring = new SharedArrayBuffer(SLOTS * SLOT_BYTES), state = new SharedArrayBuffer(4 * SLOTS + 8), meta = new SharedArrayBuffer(12 * SLOTS);
    let held = 0; // digests awaited
    const w = new Worker(HASH_WORKER_SOURCE, { eval: true, workerData: { ring, state, meta, slots: SLOTS, slotBytes: SLOT_BYTES, checksumUrl: new URL('../../core/checksum.js', import.meta.url).href } });
    const t: HashThread = {
      xxh32: false,
      ring: new Uint8Array(ring), state: new Int32Array(state), meta: new Int32Array(meta), next: 0,
      hold: () => held++ === 0 && w.ref(), waiters: new Map(), nextId: 1,
    };
    let ready: (ok: boolean) => void = () => undefined;
    const started = new Promise<boolean>((resolve) => (ready = resolve));
    w.on('message', (m: { ready?: boolean; xxh32?: boolean; id: number; hex: string; xxh: number | null }) => {
      if (m.ready) {
        t.xxh32 = m.xxh32 === true;
        ready(true);
        return;
      }
      t.waiters.get(m.id)?.resolve({ hex: m.hex, xxh: m.xxh });
      t.waiters.delete(m.id);
      if (--held === 0) w.unref();
    });
    const fail = (e: Error) => {
      ready(false);
      hashThread = undefined; // the next hash starts a fresh thread
      for (const x of t.waiters.values()) x.reject(e);
      t.waiters.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new ZipmlError('E_IO', `SHA-256 thread exited with code ${code}`)));
    const ok = await started; // the worker stays referenced until then, or the process could exit waiting
    w.unref(); // after the listeners (adding a 'message' listener refs the worker again); held while digests are awaited
    return ok ? t : null;
  } catch {
    return null;
  }
}

/** Takes the next slot of the ring, waiting (blocking) until the thread has freed it. */
function takeSlot(t: HashThread): number {
  const s = t.next;
  t.next = (s + 1) % SLOTS;
  for (let v; (v = Atomics.load(t.state, s)) !== 0; ) {
    Atomics.store(t.state, CALLER_WAITS, 1);
    if (Atomics.load(t.state, s) === v) Atomics.wait(t.state, s, v, 50);
    Atomics.store(t.state, CALLER_WAITS, 0);
  }
  return s;
}

/** Hands a filled slot to the thread: `length` bytes of hash `id`, or its digest request (-1). */
function post(t: HashThread, s: number, id: number, length: number, xxh: boolean): void {
  t.meta[3 * s] = id;
  t.meta[3 * s + 1] = length;
  t.meta[3 * s + 2] = xxh ? 1 : 0;
  Atomics.store(t.state, s, READY);
  if (Atomics.load(t.state, THREAD_WAITS) === 1) Atomics.notify(t.state, s);
}

/**
 * A SHA-256 of `expectedBytes` bytes fed in pieces. From SHA256_OFFLOAD_MIN bytes on in Node, the
 * pieces are copied to a hashing thread (through shared memory) and hashed there while the caller
 * goes on, so the hash leaves the caller's critical path: the caller pays a copy per byte instead
 * of the hash. Elsewhere, for small inputs, and when too many hashes are live, it hashes inline.
 */
export async function createSha256Offloaded(expectedBytes: number): Promise<Sha256Async> {
  const t = expectedBytes >= SHA256_OFFLOAD_MIN ? await (hashThread ??= startHashThread()) : null;
  if (t) {
    const h = offloaded(t, false);
    return { update: h.update, digest: async () => (await h.digest()).hex };
  }
  const h = await createSha256();
  return { update: (d) => h.update(d), digest: async () => h.digest() };
}

/**
 * The packer's hashes of its source: SHA-256 and XXH32 on the hashing thread (Node, from
 * SHA256_OFFLOAD_MIN bytes), else on the calling thread.
 */
export async function createSourceHashes(expectedBytes: number): Promise<SourceHashes> {
  const t = expectedBytes >= SHA256_OFFLOAD_MIN ? await (hashThread ??= startHashThread()) : null;
  if (t?.xxh32) {
    const h = offloaded(t, true);
    return { update: h.update, digest: async () => {
      const d = await h.digest();
      return { sha256: d.hex, xxh32: d.xxh! };
    } };
  }
  const sha = await createSha256Offloaded(expectedBytes), xx = new Xxh32();
  return {
    update: (d) => {
      sha.update(d);
      xx.update(d);
    },
    digest: async () => ({ sha256: await sha.digest(), xxh32: xx.digest() }),
  };
}

function offloaded(t: HashThread, xxh: boolean): { update(d: Uint8Array): void; digest(): Promise<Digests> } {
  const id = t.nextId++;
  const done = new Promise<Digests>((resolve, reject) => t.waiters.set(id, { resolve, reject }));
  done.catch(() => undefined); // surfaced by digest()
  return {
    update: (d) => {
      for (let at = 0; at < d.length; ) {
        const s = takeSlot(t);
        const k = Math.min(SLOT_BYTES, d.length - at);
        t.ring.set(d.subarray(at, at + k), s * SLOT_BYTES);
        post(t, s, id, k, xxh);
        at += k;
      }
    },
    digest: () => {
      t.hold();
      post(t, takeSlot(t), id, -1, xxh);
      return done;
    },
  };
}
