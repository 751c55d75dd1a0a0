import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestLog, sliOf } from './requests.ts';
import { bootstrapQuantileDiff, minSampleForQuantile, newcombe, quantile, wilson } from './stats.ts';

const close = (a: number, b: number, tol: number, what: string): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('Wilson and Newcombe match published values', () => {
  // Newcombe (1998), table II, example (a): 56/70 vs 48/80 → difference 0.2 with CI 0.0524 … 0.3339.
  const [lo, hi] = newcombe(48, 80, 56, 70);
  close(lo, 0.0524, 0.0005, 'Newcombe lower');
  close(hi, 0.3339, 0.0005, 'Newcombe upper');
  // Wilson for 0/100: upper ≈ 0.037 (the score interval, not the "rule of three" 0.03).
  const [l0, u0] = wilson(0, 100);
  close(l0, 0, 1e-12, 'Wilson 0/100 lower');
  close(u0, 0.037, 0.0005, 'Wilson 0/100 upper');
  const [l1, u1] = wilson(81, 263);
  close(l1, 0.2553, 0.0005, 'Wilson 81/263 lower');
  close(u1, 0.3662, 0.0005, 'Wilson 81/263 upper');
});

test('quantiles are observed values; the sample-size rule', () => {
  assert.equal(quantile([5, 1, 4, 2, 3], 0.5), 3);
  assert.equal(quantile([5, 1, 4, 2, 3], 0.99), 5);
  assert.equal(minSampleForQuantile(0.99), 100);
  assert.equal(minSampleForQuantile(0.95), 20);
  assert.equal(minSampleForQuantile(0.5), 2);
});

test('bootstrap of a quantile difference: seeded, and its interval covers the true shift', () => {
  const a = Array.from({ length: 500 }, (_, i) => 10 + (i % 50));
  const b = a.map((x) => x + 100);
  const r1 = bootstrapQuantileDiff(a, b, 0.9)!;
  const r2 = bootstrapQuantileDiff(a, b, 0.9)!;
  assert.deepEqual(r1, r2, 'same data, same seed → same interval');
  assert.equal(r1.diff, 100);
  assert.ok(r1.ci[0] <= 100 && r1.ci[1] >= 100 && r1.ci[0] > 90, `CI ${r1.ci}`);
  // No difference: the interval straddles zero.
  const same = bootstrapQuantileDiff(a, a, 0.5)!;
  assert.ok(same.ci[0] <= 0 && same.ci[1] >= 0, `CI ${same.ci}`);
  assert.equal(bootstrapQuantileDiff([], b, 0.5), null);
});

test('absence is evidence: outstanding requests count with their age; nothing answered = availability 0', () => {
  const log = new RequestLog(['a'], 1000);
  // Healthy until 1 s, then three requests that never answer (done far later).
  for (let t = 0; t < 1000; t += 100) log.add({ i: t, endpoint: 0, intended_ms: t, done_ms: t + 10, outcome: 'ok', status: 200 });
  for (const t of [1000, 1100, 1200]) log.add({ i: t, endpoint: 0, intended_ms: t, done_ms: t + 5000, outcome: 'timeout', status: 0 });
  // (1.5, 2.0]: nothing settled, three outstanding aged 1000, 900, 800 ms → availability 0, latency = their ages.
  const frozen = log.window(0, 1500, 2000);
  assert.equal(sliOf(frozen, 'availability'), 0);
  assert.equal(sliOf(frozen, 'latency_ms', 0.99), 1000);
  assert.deepEqual([frozen.settled, frozen.outstanding, frozen.bad], [0, 3, 3]);
  // (0.5, 1.15]: five settled ok, two young outstanding (150 ms, 50 ms): counted in latency, not yet failures.
  const mixed = log.window(0, 500, 1150);
  assert.equal(sliOf(mixed, 'availability'), 1);
  assert.equal(mixed.latencies.length, 7);
  assert.equal(sliOf(mixed, 'latency_ms', 0.99), 150);
  // Live: a request in flight (no record yet) counts too.
  const live = log.window(0, 8000, 9000, [{ i: 99, endpoint: 0, intended_ms: 8200 }]);
  assert.equal(sliOf(live, 'availability'), 0);
  assert.equal(sliOf(live, 'latency_ms'), 800);
  // Nothing due, nothing outstanding: unknown, never good.
  assert.ok(Number.isNaN(sliOf(log.window(0, 20_000, 21_000), 'availability')));
  // Round trip through requests.jsonl.
  const back = RequestLog.fromJsonl(log.toJsonl());
  assert.equal(sliOf(back.window(0, 1500, 2000), 'latency_ms'), 1000);
});
