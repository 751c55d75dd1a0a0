import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FaultSegment } from '../runner/evaluate.ts';
import { sweepOf, sweeps, sweepSvg, sweepTable } from './sweep.ts';
import { fakeRun } from './testing.ts';

const seg = (type: string, params: Record<string, unknown>, from_s: number, ratio: number | null, offered = 200): FaultSegment => ({
  fault: `${type}-${from_s}`,
  type,
  params,
  from_s,
  to_s: from_s + 10,
  offered,
  effective: ratio === null ? 0 : Math.round(offered * ratio),
  ratio,
});
/** A loss sweep in one window: 1, 5, 10 % (rto_ms the same in every step). */
const lossSweep = (ratios: (number | null)[]): FaultSegment[] => [1, 5, 10].map((pct, i) => seg('loss', { pct, rto_ms: 200 }, i * 10, ratios[i]));
const pair = (before: FaultSegment[], after: FaultSegment[], key = 'exp3') => [
  fakeRun(key, 'before', { load: { per_fault: before, amplification_of: 'calls per create' } }),
  fakeRun(key, 'after', { load: { per_fault: after, amplification_of: 'calls per create' } }),
];

test('the sweep rule: ≥ 2 segments of one fault type whose params differ in exactly one field, numeric in each', () => {
  assert.deepEqual(sweepOf(lossSweep([1, 1.1, 1.3])), { type: 'loss', param: 'pct' });
  assert.equal(sweepOf(lossSweep([1, 1, 1]).slice(0, 1)), null, 'one segment is no sweep');
  assert.equal(sweepOf([]), null);
  assert.equal(sweepOf([seg('loss', { pct: 1, rto_ms: 200 }, 0, 1), seg('loss', { pct: 5, rto_ms: 400 }, 10, 1)]), null, 'two fields differ');
  assert.equal(sweepOf([seg('loss', { pct: 1 }, 0, 1), seg('loss', { pct: 1 }, 10, 1)]), null, 'nothing differs');
  assert.equal(sweepOf([seg('http', { status: '503' }, 0, 1), seg('http', { status: '500' }, 10, 1)]), null, 'the field that differs is not numeric');
  assert.equal(sweepOf([seg('loss', { pct: 1 }, 0, 1), seg('loss', {}, 10, 1)]), null, 'a field missing in one segment is not a number there');
  // Different fault types (an error rate, then kills) are a sequence, not a sweep.
  assert.equal(sweepOf([seg('dependency_error', { pct: 40 }, 0, 1), seg('kill', {}, 10, 1), seg('kill', {}, 20, 1)]), null);
});

test('a sweep plot and table exactly when both the before and the after run are a sweep of the same parameter', () => {
  const found = sweeps([...pair(lossSweep([1, 1.2, 1.6]), lossSweep([1, 1.01, 1.02])), ...pair(lossSweep([1, 1, 1]), lossSweep([1, 1, 1]).slice(0, 1), 'exp9')]);
  assert.deepEqual(found.map((s) => [s.key, s.type, s.param, s.of]), [['exp3', 'loss', 'pct', 'calls per create']]);
  assert.deepEqual(found[0].lines.map((l) => [l.variant, l.points.map((p) => [p.x, p.ratio])]), [
    ['before', [[1, 1], [5, 1.2], [10, 1.6]]],
    ['after', [[1, 1], [5, 1.01], [10, 1.02]]],
  ]);
  // Only one variant ran, or the two swept different parameters: no plot.
  assert.deepEqual(sweeps(pair(lossSweep([1, 1, 1]), []).slice(0, 1)), []);
  const other = [seg('loss', { pct: 5, rto_ms: 100 }, 0, 1), seg('loss', { pct: 5, rto_ms: 400 }, 10, 1)];
  assert.deepEqual(sweeps(pair(lossSweep([1, 1, 1]), other)), []);
  // Older verdicts have no per_fault at all.
  const old = pair([], []).map((r) => ({ ...r, verdict: { ...r.verdict, load: { ...r.verdict.load, per_fault: undefined } } }));
  assert.deepEqual(sweeps(old), []);

  const t = sweepTable(found[0]);
  assert.equal(t.head[0], 'loss pct');
  assert.deepEqual(t.rows[2], ['10', '×1.60 (200 → 320)', '×1.02 (200 → 204)']);
  const svg = sweepSvg(found[0]);
  assert.match(svg, /^<svg class="sweep"/);
  assert.equal((svg.match(/<circle /g) ?? []).length, 6, 'every point drawn');
  assert.equal((svg.match(/<path /g) ?? []).length, 2, 'one line per variant');
  for (const label of ['×1.60', '×1.02', 'loss pct', 'effective/offered', 'before', 'after']) assert.ok(svg.includes(`>${label}<`), `labelled ${label}`);
  assert.doesNotMatch(svg, /<script|https?:|xmlns|href/);
});

test('faults on at the same time with the same value (one per target) are one point; a point without offered requests is not drawn', () => {
  const skew = (offset_s: number, from: number) => ['a', 'b', 'c'].map(() => seg('clock_skew', { offset_s }, from, 1.1));
  const found = sweeps(pair([...skew(300, 0), ...skew(-300, 15)], [...skew(300, 0), ...skew(-300, 15)], 'exp7'));
  assert.equal(found.length, 1);
  assert.deepEqual(found[0].lines[0].points.map((p) => p.x), [-300, 300]);
  const gap = sweeps(pair(lossSweep([1, null, 1.5]), lossSweep([1, 1, 1])));
  const svg = sweepSvg(gap[0]);
  assert.equal((svg.match(/<circle /g) ?? []).length, 5);
  assert.equal(sweepTable(gap[0]).rows[1][1], '— (200 → 0)');
});
