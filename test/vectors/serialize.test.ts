import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deserializeCodec } from '../../src/vectors/codecs/serialize.js';
import { ScalarQuantizer } from '../../src/vectors/codecs/sq.js';
import { BinaryCodec } from '../../src/vectors/codecs/binary.js';
import { RaBitQCodec } from '../../src/vectors/codecs/rabitq.js';
import { MatryoshkaCodec } from '../../src/vectors/codecs/matryoshka.js';
import { ContainerBuilder } from '../../src/core/container.js';
import { ZipmlError, isZipmlError } from '../../src/core/errors.js';
import type { VectorCodec } from '../../src/vectors/types.js';
import { fuzzDecoder, bytesEqual } from '../util/mutate.js';
import { gaussian } from './codec-util.js';

const D = 12;
const X = gaussian(1, 64, D, 1, 0.3);

function trained(c: VectorCodec): VectorCodec {
  c.train(X, { seed: 3 });
  return c;
}

const FORMATS: Array<[string, () => VectorCodec]> = [
  ['SQ8', () => trained(new ScalarQuantizer(D, 'SQ8'))],
  ['SQ4_uniform', () => trained(new ScalarQuantizer(D, 'SQ4_uniform', { rangeStat: 'meanstd', rangeStatArg: 2.5 }))],
  ['SQfp16', () => new ScalarQuantizer(D, 'SQfp16')],
  ['LSHrt', () => trained(new BinaryCodec(D, 'LSHrt'))],
  ['LSHh', () => trained(new BinaryCodec(D, 'LSHh'))],
  ['RaBitQ', () => trained(new RaBitQCodec(D))],
  ['RaBitQ4 hadamard', () => trained(new RaBitQCodec(D, { nbBits: 4, rotation: 'hadamard' }))],
  ['MRL8,SQ6', () => trained(new MatryoshkaCodec(D, 8, new ScalarQuantizer(8, 'SQ6')))],
];

test('every codec survives serialize -> deserializeCodec with identical behaviour', () => {
  const q = gaussian(2, 1, D);
  for (const [name, make] of FORMATS) {
    const a = make();
    const bytes = a.serialize();
    const b = deserializeCodec(bytes);
    assert.equal(b.name, a.name, name);
    assert.equal(b.codeSize, a.codeSize, name);
    assert.ok(b.isTrained, name);
    assert.ok(bytesEqual(b.serialize(), bytes), `${name}: re-serialization differs`);
    const ca = a.encode(X);
    assert.ok(bytesEqual(b.encode(X), ca), `${name}: codes differ`);
    assert.deepEqual(b.decode(ca), a.decode(ca), name);
    const da = new Float32Array(64), db = new Float32Array(64);
    a.distances(q, 'l2')(ca, 64, da);
    b.distances(q, 'l2')(ca, 64, db);
    assert.deepEqual(db, da, name);
  }
});

test('untrained codecs round trip and stay untrained', () => {
  for (const c of [new ScalarQuantizer(D, 'SQ8'), new BinaryCodec(D, 'LSHr'), new RaBitQCodec(D, 'RaBitQ2'), new MatryoshkaCodec(D, 4, new RaBitQCodec(4))]) {
    const b = deserializeCodec(c.serialize());
    assert.equal(b.isTrained, false, c.name);
    assert.equal(b.name, c.name);
    assert.throws(() => b.encode(X), (e) => isZipmlError(e, 'E_ARG'));
  }
});

test('deserializeCodec rejects foreign and inconsistent containers', () => {
  const isZ = (e: unknown) => e instanceof ZipmlError;
  assert.throws(() => deserializeCodec(new Uint8Array(10)), isZ);
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('tensors.model', {})), (e) => isZipmlError(e, 'E_FORMAT'));
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', { codec: 'pq9000' })), (e) => isZipmlError(e, 'E_FORMAT'));
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', { codec: 'sq', version: 2 })), (e) => isZipmlError(e, 'E_FORMAT'));
  const sqMeta = { codec: 'sq', version: 1, d: 4, qtype: '8bit', rangeStat: 'minmax', rangeStatArg: 0, trained: true };
  // Missing section, wrong size, NaN range, negative width, huge d.
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', sqMeta)), (e) => isZipmlError(e, 'E_CORRUPT'));
  assert.throws(() => deserializeCodec(new ContainerBuilder().addSection('ranges', new Uint8Array(28)).finish('vectors.codec', sqMeta)), (e) => isZipmlError(e, 'E_CORRUPT'));
  const nan = new Float32Array(8);
  nan[2] = NaN;
  assert.throws(() => deserializeCodec(new ContainerBuilder().addSection('ranges', new Uint8Array(nan.buffer)).finish('vectors.codec', sqMeta)), (e) => isZipmlError(e, 'E_CORRUPT'));
  const neg = new Float32Array(8);
  neg[5] = -1;
  assert.throws(() => deserializeCodec(new ContainerBuilder().addSection('ranges', new Uint8Array(neg.buffer)).finish('vectors.codec', sqMeta)), (e) => isZipmlError(e, 'E_CORRUPT'));
  assert.throws(() => deserializeCodec(new ContainerBuilder().finish('vectors.codec', { ...sqMeta, d: 1e9, trained: false })), (e) => isZipmlError(e, 'E_LIMIT'));
  // A rotation that is not orthogonal.
  const rq = new RaBitQCodec(4);
  rq.train(gaussian(3, 10, 4));
  const rot = new Float32Array(16).fill(0.5);
  const bad = new ContainerBuilder()
    .addSection('center', new Uint8Array(16))
    .addSection('rotation', new Uint8Array(rot.buffer))
    .finish('vectors.codec', { codec: 'rabitq', version: 1, d: 4, nbBits: 1, rotation: 'orthogonal', epsilon0: 1.9, trained: true, transform: { kind: 'orthogonal', section: 'rotation', dIn: 4, dOut: 4 } });
  assert.throws(() => deserializeCodec(bad), (e) => isZipmlError(e, 'E_CORRUPT') && /orthogonal|norm/.test((e as Error).message));
  // Matryoshka nesting is bounded.
  let nested: Uint8Array = new ScalarQuantizer(2, 'SQfp16').serialize();
  for (let i = 0; i < 6; i++) nested = new ContainerBuilder().addSection('inner', nested).finish('vectors.codec', { codec: 'matryoshka', version: 1, d: 2, m: 2, normalize: true });
  assert.throws(() => deserializeCodec(nested), (e) => isZipmlError(e, 'E_LIMIT'));
});

for (const [name, make] of FORMATS) {
  test(`deserializeCodec fuzz: 10,000 mutations of ${name}`, () => {
    const valid = make().serialize();
    const { rejected, accepted } = fuzzDecoder(valid, 10_000, 0xc0dec + name.length, deserializeCodec, (c) => bytesEqual(c.serialize(), valid));
    assert.equal(rejected + accepted, 10_000);
    // Accepted mutations hit the zero padding between sections, which no reader uses; the
    // callback already checked that each of them decoded to exactly the original codec.
    assert.ok(rejected > 5_000, `${name}: only ${rejected} rejected`);
  });
}
