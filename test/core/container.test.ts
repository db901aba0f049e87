import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ContainerBuilder, readContainer, encodeFooter, encodeHeader, type SectionInfo, SECTION_ALIGN,
} from '../../src/core/container.js';
import { ContainerFile, ContainerFileWriter } from '../../src/core/container-file.js';
import { ZipmlError, isZipmlError } from '../../src/core/errors.js';
import { xxh32 } from '../../src/core/checksum.js';
import { Rng } from '../util/rng.js';
import { bytesEqual, fuzzDecoder } from '../util/mutate.js';

function sample(): { bytes: Uint8Array; sections: Array<[string, Uint8Array]> } {
  const rng = new Rng(5);
  const sections: Array<[string, Uint8Array]> = [
    ['weights', rng.bytes(300)],
    ['empty', new Uint8Array(0)],
    ['codes', rng.bytes(77)],
  ];
  const b = new ContainerBuilder();
  for (const [n, d] of sections) b.addSection(n, d, { note: n });
  return { bytes: b.finish('test.sample', { answer: 42 }), sections };
}

test('container round trip in memory, aligned zero-copy sections', () => {
  const { bytes, sections } = sample();
  const c = readContainer(bytes);
  assert.equal(c.kind, 'test.sample');
  assert.deepEqual(c.meta, { answer: 42 });
  assert.deepEqual(c.sections.map((s) => s.name), ['weights', 'empty', 'codes']);
  for (const [n, d] of sections) {
    const v = c.section(n);
    assert.ok(bytesEqual(v, d), n);
    assert.equal(v.buffer, bytes.buffer, 'section is a view, not a copy');
    assert.equal(c.info(n).offset % SECTION_ALIGN, 0);
    assert.deepEqual(c.info(n).meta, { note: n });
  }
  assert.throws(() => c.section('nope'), (e: unknown) => isZipmlError(e, 'E_ARG'));
});

test('container rejects every single-byte corruption of checksummed bytes', () => {
  const { bytes } = sample();
  const c = readContainer(bytes);
  // Bytes a check covers: magic, major version, flags, every section, header and footer. The minor
  // version (8..11 minus major) is accepted by design, and padding carries no data.
  const covered = new Uint8Array(bytes.length);
  covered.fill(1, 0, 10);
  covered.fill(1, 12, 16);
  for (const s of c.sections) covered.fill(1, s.offset, s.offset + s.length);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 24, true);
  covered.fill(1, bytes.length - 32 - headerLength);
  for (let i = 0; i < bytes.length; i++) {
    if (!covered[i]) continue;
    const d = bytes.slice();
    d[i]! ^= 0x10;
    assert.throws(() => readContainer(d), (e: unknown) => e instanceof ZipmlError, `byte ${i}`);
  }
});

/** Rebuilds a container around a hand-made header, with valid checksums, to test the field rules. */
function withHeader(body: Uint8Array, headerJson: unknown): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify(headerJson));
  const out = new Uint8Array(body.length + header.length + 32);
  out.set(body);
  out.set(header, body.length);
  out.set(encodeFooter(body.length, header), body.length + header.length);
  return out;
}

test('container header rules: tampered lengths and offsets are refused with valid checksums', () => {
  const { bytes } = sample();
  const c = readContainer(bytes);
  const headerOffset = (() => {
    const dv = new DataView(bytes.buffer, bytes.byteOffset);
    return Number(dv.getBigUint64(bytes.length - 32, true));
  })();
  const body = bytes.slice(0, headerOffset);
  const base = JSON.parse(new TextDecoder().decode(encodeHeader(c.kind, c.meta, c.sections as SectionInfo[])));
  const cases: Array<[string, (h: { sections: Array<Record<string, unknown>> } & Record<string, unknown>) => void, string]> = [
    ['length past header', (h) => { h.sections[2]!.length = 10_000_000; }, 'E_CORRUPT'],
    ['negative length', (h) => { h.sections[0]!.length = -1; }, 'E_CORRUPT'],
    ['fractional length', (h) => { h.sections[0]!.length = 1.5; }, 'E_CORRUPT'],
    ['huge offset', (h) => { h.sections[0]!.offset = 2 ** 60; }, 'E_CORRUPT'],
    ['misaligned offset', (h) => { h.sections[0]!.offset = 17; }, 'E_CORRUPT'],
    ['overlap', (h) => { h.sections[2]!.offset = h.sections[0]!.offset; }, 'E_CORRUPT'],
    ['duplicate name', (h) => { h.sections[1]!.name = 'weights'; }, 'E_CORRUPT'],
    ['bad checksum text', (h) => { h.sections[0]!.xxh32 = 'XYZ'; }, 'E_CORRUPT'],
    ['wrong checksum', (h) => { h.sections[0]!.xxh32 = '00000000'; }, 'E_CORRUPT'],
    ['wrong major', (h) => { h.zipml = 2; }, 'E_FORMAT'],
    ['sections not array', (h) => { h.sections = {} as never; }, 'E_CORRUPT'],
    ['deep nesting', (h) => { h.meta = JSON.parse('['.repeat(100) + ']'.repeat(100)); }, 'E_LIMIT'],
  ];
  for (const [what, edit, code] of cases) {
    const h = structuredClone(base);
    edit(h);
    assert.throws(() => readContainer(withHeader(body, h)), (e: unknown) => isZipmlError(e, code as never), what);
  }
  // Unknown fields are ignored (how minor versions extend the format).
  const h = structuredClone(base);
  h.future = { x: 1 };
  assert.equal(readContainer(withHeader(body, h)).sections.length, 3);
});

test('container fuzz: 10,000 mutated files give ZipmlError or the exact content', () => {
  const { bytes, sections } = sample();
  const r = fuzzDecoder(bytes, 10_000, 1234, (b) => readContainer(b), (c) =>
    c.kind === 'test.sample' && sections.every(([n, d]) => bytesEqual(c.section(n), d)));
  assert.ok(r.rejected > 9000, `rejected ${r.rejected}`);
});

test('container file: atomic streaming writer and validating reader', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'zipml-container-'));
  try {
    const target = join(dir, 'out.zml');
    const rng = new Rng(11);
    const big = rng.bytes(3 << 20);
    const w = await ContainerFileWriter.create(target);
    await w.addSection('small', new Uint8Array([1, 2, 3]));
    async function* pieces() {
      for (let i = 0; i < big.length; i += 100_000) yield big.subarray(i, i + 100_000);
    }
    await w.addSection('big', pieces(), { dtype: 'u8' });
    assert.deepEqual(await readdir(dir).then((f) => f.filter((x) => x === 'out.zml')), [], 'target absent before finish');
    await w.finish('test.file', { v: 1 });
    assert.deepEqual(await readdir(dir), ['out.zml'], 'no temporary left behind');

    const f = await ContainerFile.open(target);
    assert.equal(f.kind, 'test.file');
    assert.ok(bytesEqual(await f.readSection('big'), big));
    assert.ok(bytesEqual(await f.readSectionRange('big', 1000, 10), big.subarray(1000, 1010)));
    await f.verifySection('big');
    await assert.rejects(f.readSectionRange('big', big.length - 5, 10), (e: unknown) => isZipmlError(e, 'E_ARG'));
    await f.close();
    // Same bytes as the in-memory reader sees.
    const mem = readContainer(await readFile(target));
    assert.equal(xxh32(mem.section('big')), xxh32(big));

    // Refuses to overwrite without the flag; abort leaves the old file untouched.
    await assert.rejects(ContainerFileWriter.create(target), (e: unknown) => isZipmlError(e, 'E_ARG'));
    const w2 = await ContainerFileWriter.create(target, { overwrite: true });
    await w2.addSection('x', new Uint8Array(10));
    await w2.abort();
    assert.deepEqual(await readdir(dir), ['out.zml']);
    assert.equal((await ContainerFile.open(target)).kind, 'test.file');

    // A corrupted file on disk is refused by the file reader too.
    const bad = await readFile(target);
    bad[bad.length - 40]! ^= 1; // inside the header
    await writeFile(join(dir, 'bad.zml'), bad);
    await assert.rejects(ContainerFile.open(join(dir, 'bad.zml')), (e: unknown) => isZipmlError(e, 'E_CORRUPT'));
    await writeFile(join(dir, 'short.zml'), bad.subarray(0, bad.length - 7));
    await assert.rejects(ContainerFile.open(join(dir, 'short.zml')), (e: unknown) => e instanceof ZipmlError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
