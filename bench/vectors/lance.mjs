// LanceDB's IVF_PQ beside zipml in bench/vectors (the "if it fits the time" peer):
// @lancedb/lancedb 0.31.0 with apache-arrow 18.1.0 (it needs that version and loads it with
// require()). The same base rows go into a table (id, vector as FixedSizeList<Float32>), an IVF_PQ
// index is built with the plan's nlist and 8-bit PQ sub-vectors (Faiss's `IVF{nlist},PQ{m8}`), and
// the sweep walks nprobes crossed with refineFactor (none, then the k_factors of the other
// libraries: LanceDB re-ranks with the stored full vectors, like RFlat). Queries go one at a time
// through its async API. Bytes per vector: the table directory (vectors + index) / n.
//
// LanceDB searches on its own Rust thread pools. TOKIO_WORKER_THREADS is set to 1 before it
// loads; LANCE_CPU_THREADS / LANCE_IO_THREADS stay at their defaults because at 1 its index
// build never returns (0.31.0 here: every thread parked on a futex, 0% CPU, in a 10,000 × 8
// table). Its CPU pool may therefore use both cores: the report's CPU-time tables show that.
import { createRequire } from 'node:module';
import { readdirSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { K } from '../vectors-codecs/lib.mjs';
import { NPROBES, K_FACTORS, walk, cpuSince } from './sweep.mjs';
import { measurePoint, queryRows } from './measure.mjs';
import { PQ_CHOICES } from './plan.mjs';

const require = createRequire(import.meta.url);

function load() {
  process.env.TOKIO_WORKER_THREADS ??= '1';
  process.env.LANCEDB_LOG ??= 'error';
  process.env.RUST_LOG ??= 'error';
  try {
    return { lancedb: require('@lancedb/lancedb'), arrow: require('apache-arrow') };
  } catch {
    return null;
  }
}

const libs = load();
export const lanceAvailable = libs !== null;

function dirBytes(path) {
  let total = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

/** The base rows as an Arrow table without going through JS objects per row. */
function arrowTable(arrow, ds) {
  const floats = arrow.makeData({ type: new arrow.Float32(), length: ds.nb * ds.d, data: ds.base });
  const type = new arrow.FixedSizeList(ds.d, new arrow.Field('item', new arrow.Float32(), true));
  const vectors = arrow.makeVector(arrow.makeData({ type, length: ds.nb, nullCount: 0, child: floats }));
  const ids = arrow.makeVector(Int32Array.from({ length: ds.nb }, (_, i) => i));
  return new arrow.Table({ id: ids, vector: vectors });
}

export async function runLance(name, ds, truth, dir, nlist) {
  const { lancedb, arrow } = libs;
  const m = PQ_CHOICES[name]?.m8 ?? Math.max(1, ds.d / 4);
  const path = join(dir, 'lance');
  rmSync(path, { recursive: true, force: true });
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const db = await lancedb.connect(path);
  const table = await db.createTable('v', arrowTable(arrow, ds), { mode: 'overwrite' });
  const distanceType = ds.searchMetric === 'l2' ? 'l2' : 'dot';
  await table.createIndex('vector', { config: lancedb.Index.ivfPq({ numPartitions: nlist, numSubVectors: m, numBits: 8, distanceType }) });
  const buildSeconds = (performance.now() - t0) / 1000;
  const buildCpuSeconds = cpuSince(c0);
  const serializedBytes = dirBytes(path);
  const queries = queryRows(ds).map((q) => Array.from(q));
  // Knobs named as the other libraries' (nprobe, kFactor), passed as nprobes / refineFactor.
  const rows = [undefined, ...K_FACTORS].map((kFactor) => NPROBES.filter((p) => p <= nlist).map((nprobe) => (kFactor ? { nprobe, kFactor } : { nprobe })));
  const points = await walk(rows, (p) => measurePoint(ds, truth, {
    async oneAsync(q, ids) {
      let s = table.vectorSearch(queries[q]).distanceType(distanceType).limit(K).nprobes(p.nprobe).select(['id']);
      if (p.kFactor) s = s.refineFactor(p.kFactor);
      const r = await s.toArray();
      for (let j = 0; j < K; j++) ids[q * K + j] = j < r.length ? r[j].id : -1;
    },
  }));
  table.close?.();
  db.close?.();
  rmSync(path, { recursive: true, force: true });
  return {
    library: 'lancedb', config: `IVF_PQ partitions=${nlist}, sub-vectors=${m}x8 bits, ${distanceType}`, knob: 'nprobe',
    buildSeconds, buildCpuSeconds, serializedBytes, bytesPerVector: serializedBytes / ds.nb, bytesNote: 'table directory (vectors + index) / n', points,
  };
}
