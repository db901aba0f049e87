/** Mixed precision: the greedy allocation respects the budget and spends bits where KL falls most. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isZipmlError } from '../../../src/core/errors.js';
import { SeededRandom } from '../../../src/core/random.js';
import { type LayerSensitivity, allocateWidths } from '../../../src/tensors/quant/mixed.js';
import type { QuantBits } from '../../../src/tensors/quant/packed.js';

const widths: QuantBits[] = [2, 3, 4, 8];
const layer = (i: number, weights: number, klAt2: number): LayerSensitivity => ({
  layer: i, name: 'wq', weights,
  // KL roughly quartering per extra bit; storage bits = width + 0.5 per weight.
  options: widths.map((b) => ({ bits: b, storageBits: (b + 0.5) * weights, kl: klAt2 / 4 ** (b - 2) })),
});

test('allocation stays within the budget and never wastes a whole upgrade that fits', () => {
  const rng = new SeededRandom(7);
  const sens = Array.from({ length: 30 }, (_, i) => layer(i, 1000 + rng.int(5000), rng.float() * 0.5));
  const weights = sens.reduce((s, x) => s + x.weights, 0);
  for (const budget of [2.5, 3, 3.3, 4, 4.5, 6, 8.5, 20]) {
    const c = allocateWidths(sens, budget);
    const used = sens.reduce((s, x, i) => s + x.options[c[i]!]!.storageBits, 0);
    assert.ok(used <= budget * weights + 1e-6, `budget ${budget}: used ${used / weights}`);
    for (const [i, s] of sens.entries()) {
      const cur = s.options[c[i]!]!;
      for (const o of s.options) {
        if (o.kl < cur.kl) assert.ok(used - cur.storageBits + o.storageBits > budget * weights, `budget ${budget}: layer ${i} could still upgrade to ${o.bits}`);
      }
    }
  }
  assert.deepEqual(allocateWidths(sens, 2.5), sens.map(() => 0));
  assert.deepEqual(allocateWidths(sens, 8.5), sens.map(() => 3));
});

test('with room for one upgrade, the most sensitive layer per bit gets it', () => {
  const sens = [layer(0, 1000, 0.01), layer(1, 1000, 0.3), layer(2, 1000, 0.05)];
  const c = allocateWidths(sens, (2.5 * 3000 + 1000) / 3000);
  assert.deepEqual(c, [0, 1, 0]);
});

test('a budget below the cheapest widths is an error', () => {
  assert.throws(() => allocateWidths([layer(0, 100, 0.1)], 2), (e) => isZipmlError(e, 'E_ARG'));
});
