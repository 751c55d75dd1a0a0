import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecorrelatedJitter } from './backoff.ts';

/** A deterministic uniform source (LCG), so sequences are reproducible. */
function seeded(seed: number): () => number {
  let s = Math.imul(seed, 0x9e3779b1) >>> 0; // spread nearby seeds apart
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

test('decorrelated jitter: each delay in [base, min(max, 3 × previous)]', () => {
  for (let seed = 1; seed <= 50; seed++) {
    const b = new DecorrelatedJitter({ baseMs: 20, maxMs: 1_000, random: seeded(seed) });
    let previous = 20;
    for (let i = 0; i < 30; i++) {
      const d = b.next();
      assert.ok(d >= 20, `delay ${d} below base`);
      assert.ok(d <= Math.min(1_000, previous * 3) + 1e-9, `delay ${d} above 3 × ${previous}`);
      previous = d;
    }
  }
});

test('extremes of the random source: 0 gives base every time, →1 grows ×3 until the cap', () => {
  const low = new DecorrelatedJitter({ baseMs: 10, maxMs: 500, random: () => 0 });
  assert.deepEqual([low.next(), low.next(), low.next()], [10, 10, 10]);
  const high = new DecorrelatedJitter({ baseMs: 10, maxMs: 500, random: () => 1 });
  assert.deepEqual([1, 2, 3, 4, 5].map(() => high.next()), [30, 90, 270, 500, 500]);
});

test('grows on average and spreads callers that failed together', () => {
  const firsts: number[] = [];
  const fifths: number[] = [];
  for (let seed = 1; seed <= 200; seed++) {
    const b = new DecorrelatedJitter({ baseMs: 10, maxMs: 10_000, random: seeded(seed) });
    const seq = [1, 2, 3, 4, 5].map(() => b.next());
    firsts.push(seq[0]);
    fifths.push(seq[4]);
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  assert.ok(mean(fifths) > 4 * mean(firsts), `mean 1st ${mean(firsts)}, 5th ${mean(fifths)}`);
  // 200 callers do not come back at the same instant: their 5th delays take many distinct values.
  assert.ok(new Set(fifths.map((d) => Math.round(d))).size > 100);
});
