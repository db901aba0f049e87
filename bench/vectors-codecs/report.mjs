// Markdown tables of bench/vectors-codecs: one per dataset, and a summary of issue 3's targets.
/** Deltas against issue 3's targets: recall@10 within 0.01 of Faiss's, MSE within 2%. */
export function targetOf(entry, ours, faiss) {
  if (!['SQ8', 'SQ4', 'PQx8', 'PQx4', 'OPQ', 'RQ'].includes(entry.group)) return undefined;
  if (!ours || ours.error || !faiss || faiss.error) return { met: false, note: `${ours?.error ? 'zipml' : 'Faiss'} failed` };
  const recallDelta = ours.recall - faiss.recall;
  const mseRatio = ours.mse / faiss.mse;
  const recallMet = recallDelta >= -0.01;
  const mseMet = mseRatio <= 1.02;
  return { recallDelta, mseRatio, recallMet, mseMet, sameBytes: ours.codeSize === faiss.codeSize, met: recallMet && mseMet && ours.codeSize === faiss.codeSize };
}

/** RaBitQ 1-bit against the binary sign codes with the same number of sign bits (d). */
export function rabitqVerdict(rows) {
  const rq = rows.find((r) => r.entry.group === 'rabitq')?.ours;
  if (!rq || rq.error) return undefined;
  const contenders = [];
  for (const r of rows.filter((x) => x.entry.group === 'binary')) {
    if (r.ours && !r.ours.error) {
      contenders.push({ who: `zipml ${r.entry.name}, float query`, recall: r.ours.recall });
      contenders.push({ who: `zipml ${r.entry.name}, Hamming`, recall: r.ours.hamming.recall });
    }
    if (r.faiss && !r.faiss.error) contenders.push({ who: `Faiss ${r.entry.name} (Hamming)`, recall: r.faiss.recall });
  }
  const best = contenders.reduce((a, b) => (b.recall > a.recall ? b : a), { recall: -1 });
  const eq = rows.find((x) => x.entry.group === 'binary-equal-bytes')?.faiss;
  return {
    recall: rq.recall, bestBinary: best, wins: rq.recall > best.recall,
    equalBytes: eq && !eq.error ? { who: `Faiss ${rows.find((x) => x.entry.group === 'binary-equal-bytes').entry.label}`, recall: eq.recall, wins: rq.recall > eq.recall } : undefined,
  };
}

const DASH = '—';

function num(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return DASH;
  if (Math.abs(v) >= 1e4) return Math.round(v).toLocaleString('en-US');
  return v.toPrecision(4);
}
const sec = (v) => (v === undefined ? DASH : v < 0.1 ? v.toFixed(3) : v.toFixed(2));
const rec = (v) => (v === undefined ? DASH : v.toFixed(4));
const signed = (v, p) => (v >= 0 ? '+' : '−') + Math.abs(v).toFixed(p);
const pair = (a, b) => `${a} / ${b}`;
const ok = (x) => x && !x.error;

/** The target cell: met, or what is missed and by how much. */
function targetCell(t) {
  if (!t) return '';
  if (t.note) return `**not measured** (${t.note})`;
  const miss = [];
  if (!t.sameBytes) miss.push('bytes differ');
  if (!t.recallMet) miss.push(`R@10 ${signed(t.recallDelta, 4)}`);
  if (!t.mseMet) miss.push(`MSE ${signed((t.mseRatio - 1) * 100, 1)}%`);
  return miss.length ? `**missed**: ${miss.join(', ')}` : 'met';
}

function label(row, nb) {
  const e = row.entry;
  let s = e.label ?? e.name;
  if (e.name && e.faiss?.factory && e.faiss.factory !== e.name) s += ` (Faiss: ${e.faiss.factory})`;
  if (e.trainRows < nb) s += `, both trained on the first ${e.trainRows.toLocaleString('en-US')} rows`;
  if (e.trainOptions?.niter) s += `, niter ${e.trainOptions.niter} on both sides`;
  if (e.trainOptions?.trainType === 'kmeans') s += ', plain k-means per stage on both sides';
  return s;
}

/** Table rows of one codec entry (binary codes get a Hamming row and a float-query row). */
function rowsOf(row, nb) {
  const { ours: o, faiss: f, entry } = row;
  const name = label(row, nb);
  const failed = (x) => (x?.error ? 'failed¹' : DASH);
  const bytes = pair(ok(o) ? o.codeSize : failed(o), ok(f) ? f.codeSize : entry.faiss ? failed(f) : 'n/a');
  const mseCells = [ok(o) ? num(o.mse) : DASH, ok(f) && f.mse !== undefined ? num(f.mse) : DASH,
    ok(o) && ok(f) && f.mse !== undefined ? (o.mse / f.mse).toFixed(3) : DASH];
  const train = pair(ok(o) ? sec(o.trainSeconds) : DASH, ok(f) ? sec(f.trainSeconds) : DASH);
  const encode = pair(ok(o) ? sec(o.encodeSeconds) : DASH, ok(f) ? sec(f.encodeSeconds) : DASH);
  const line = (codec, rOurs, rFaiss, searchOurs, searchFaiss, target = '') => {
    const delta = rOurs !== undefined && rFaiss !== undefined ? signed(rOurs - rFaiss, 4) : DASH;
    return `| ${codec} | ${bytes} | ${mseCells.join(' | ')} | ${rec(rOurs)} | ${rec(rFaiss)} | ${delta} | ${train} | ${encode} | ${pair(sec(searchOurs), sec(searchFaiss))} | ${target} |`;
  };
  if (entry.hamming) {
    return [
      line(`${name}, Hamming`, o?.hamming?.recall, f?.recall, o?.hamming?.searchSeconds, f?.searchSeconds),
      line(`${name}, float query`, o?.recall, undefined, o?.searchSeconds, undefined),
    ];
  }
  return [line(name, o?.recall, f?.recall, o?.searchSeconds, f?.searchSeconds, targetCell(row.target))];
}

function rabitqLine(v) {
  if (!v) return 'RaBitQ 1-bit: did not run.';
  const by = v.recall - v.bestBinary.recall;
  let s = `RaBitQ 1-bit (⌈d/8⌉ sign bytes + 12 bytes of factors) R@10 ${rec(v.recall)} against the best binary sign code with the same d bits, ` +
    `${v.bestBinary.who} ${rec(v.bestBinary.recall)}: **${v.wins ? 'wins' : 'loses'}** by ${Math.abs(by).toFixed(4)}.`;
  if (v.equalBytes) {
    s += ` At equal bytes (${v.equalBytes.who}, R@10 ${rec(v.equalBytes.recall)}) RaBitQ ${v.equalBytes.wins ? 'wins' : 'loses'} by ${Math.abs(v.recall - v.equalBytes.recall).toFixed(4)}.`;
  }
  return s;
}

export const TABLE_HEAD = [
  '| codec | bytes/vector ours / Faiss | MSE ours | MSE Faiss | MSE ratio | R@10 ours | R@10 Faiss | ΔR@10 | train s ours / Faiss | encode s ours / Faiss | search s ours / Faiss | target |',
  '|---|---|---:|---:|---:|---:|---:|---:|---|---|---|---|',
];

/** The section of one dataset. */
export function datasetMarkdown(ds) {
  const lines = [
    `## ${ds.name}: ${ds.nb.toLocaleString('en-US')} × ${ds.d}, ${ds.nq.toLocaleString('en-US')} queries, ${ds.metric === 'cos' ? 'cosine (inner product of normalised rows)' : 'squared L2'}`,
    '',
    ds.description + '.',
    '',
    ...TABLE_HEAD,
    ...ds.rows.flatMap((r) => rowsOf(r, ds.nb)),
    '',
    rabitqLine(ds.rabitq),
  ];
  const errors = ds.rows.flatMap((r) => [['zipml', r.ours], ['Faiss', r.faiss]]
    .filter(([, x]) => x?.error).map(([who, x]) => `${who} ${r.entry.faiss?.factory ?? r.entry.name}: \`${x.error.slice(0, 400)}\``));
  if (errors.length) lines.push('', `¹ Failed: ${errors.join('; ')}.`);
  if (ds.faissWarnings.length) lines.push('', `Faiss warnings: ${ds.faissWarnings.map((w) => `\`${w}\``).join('; ')}.`);
  const ours = [...new Set(ds.rows.flatMap((r) => r.ours?.warnings ?? []))];
  if (ours.length) lines.push('', `zipml warnings: ${ours.map((w) => `\`${w}\``).join('; ')}.`);
  return lines.join('\n') + '\n';
}

const GROUPS = ['SQ8', 'SQ4', 'PQx8', 'PQx4', 'OPQ', 'RQ'];
const GROUP_TITLE = { SQ8: 'SQ8', SQ4: 'SQ4', PQx8: 'PQ M×8', PQx4: 'PQ M×4', OPQ: 'OPQ', RQ: 'RQ' };

/** Summary of the targets (one row per dataset) followed by every dataset's section. */
export function summaryMarkdown(result) {
  const m = result.machine;
  const head = [
    '# Vector codecs: zipml vs Faiss',
    '',
    `${m.cpu}, ${m.cores} cores shared with other jobs (load ${m.loadAverageAtStart.toFixed(2)} at start), ${m.platform}; ` +
      `Node ${m.node} (zipml kernels: ${m.zipmlKernels}), Faiss ${m.faiss} (Debian python3-faiss, Python ${m.python}, numpy ${m.numpy}); ` +
      `zipml at ${m.commit}${m.uncommittedCodecFiles.length ? ` with uncommitted codec files (${m.uncommittedCodecFiles.map((l) => l.slice(3)).join(', ')})` : ''}. ` +
      `Everything on one thread (Faiss: omp_set_num_threads(1)). Total ${(result.seconds / 60).toFixed(1)} min.`,
    '',
    `Command: \`npm run build && ${result.command}\``,
    '',
    'Targets (issue 3): at equal bytes per vector, R@10 ≥ Faiss − 0.01 and MSE ≤ 1.02 × Faiss; RaBitQ 1-bit beats binary sign codes with the same bits.',
    '',
    `| dataset | ${GROUPS.map((g) => GROUP_TITLE[g]).join(' | ')} | RaBitQ vs sign bits |`,
    `|---|${GROUPS.map(() => '---').join('|')}|---|`,
  ];
  for (const ds of result.datasets) {
    const cells = GROUPS.map((g) => {
      const r = ds.rows.find((x) => x.entry.group === g);
      return r ? `${r.entry.name}: ${targetCell(r.target)}` : 'not run';
    });
    const v = ds.rabitq;
    const rb = v ? `${v.wins ? 'wins' : '**loses**'} (${rec(v.recall)} vs ${rec(v.bestBinary.recall)})` : DASH;
    head.push(`| ${ds.name} | ${cells.join(' | ')} | ${rb} |`);
  }
  return [head.join('\n'), '', ...result.datasets.map(datasetMarkdown)].join('\n');
}
