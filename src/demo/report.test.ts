import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { FaultSegment } from '../runner/evaluate.ts';
import type { RampStep, RampSummary } from './ramp.ts';
import { recoveryRanking } from './recovery.ts';
import { writeDemoReport, type DemoRun, type DemoSummary } from './report.ts';
import { fakeRun } from './testing.ts';

const dir = mkdtempSync(join(tmpdir(), 'fl-demo-report-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const step = (rate: number, over: Partial<RampStep> = {}): RampStep => ({
  rate_rps: rate,
  sent_rps: rate - 0.4,
  achieved_rps: rate - 0.9,
  p99_ms: 45,
  endpoint_p99_ms: { get_order: 30, create_order: 45 },
  error_rate: 0,
  dispatch_lag_p99_ms: 3,
  generator_dropped: 0,
  in_flight_cap_dropped: 0,
  valid: true,
  held: true,
  broken_by: [],
  limited_by: [],
  ...over,
});

const RAMP: RampSummary = {
  status: 'found',
  stopped_by: 'slo',
  slo: 'p99<250ms,errors<0.1%',
  breakpoint_rps: 100,
  breakpoint_is_lower_bound: false,
  broken_at_rps: 150,
  stopped_at_rps: 150,
  max_rps: 864_000,
  max_rps_derived: true,
  recommended_rps: 65,
  fraction: 0.65,
  basis_rps: 100,
  min_rps: 32,
  floored: false,
  mitigations: { preset: 'all' },
  role: 'ramp',
  steps: [step(50), step(100), step(150, { held: false, p99_ms: 731, error_rate: 0.004, broken_by: ['p99 731ms ≥ 250ms'] })],
  legs: [],
};

const loss = (ratios: number[]): FaultSegment[] => [1, 5, 10].map((pct, i) => ({ fault: `loss-${pct}`, type: 'loss', params: { pct, rto_ms: 200 }, from_s: i * 8, to_s: i * 8 + 8, offered: 100, effective: 100 * ratios[i], ratio: ratios[i] }));

function summary(runs: DemoRun[], breakpoint: RampSummary | null = RAMP): DemoSummary {
  return {
    title: 'demo <test>',
    plan: '/tmp/plan.yaml',
    started_at: '2026-12-01T10:00:00.000Z',
    wall_s: 600,
    interrupted: false,
    rate_rps: 65,
    breakpoint,
    windows: { warmup_s: 4, baseline_s: 16, fault_s: 24, recovery_s: 20 },
    runs,
    recovery: recoveryRanking(runs),
    gate_failures: [],
    report: { markdown: join(dir, 'report.md'), html: join(dir, 'report.html'), json: join(dir, 'summary.json') },
  };
}

function written(s: DemoSummary, sub: string): { md: string; html: string; json: DemoSummary } {
  const out = join(dir, sub);
  mkdirSync(out, { recursive: true });
  writeDemoReport(out, s);
  const read = (f: string): string => readFileSync(join(out, f), 'utf8');
  return { md: read('report.md'), html: read('report.html'), json: JSON.parse(read('summary.json')) as DemoSummary };
}

const RUNS = (): DemoRun[] => [
  fakeRun('exp2-kill', 'before', { result: 'failed', mttr_s: 3.1 }, { intervention: 'the supervisor restarts the killed process' }),
  fakeRun('exp2-kill', 'after', { result: 'held', mttr_s: 0.4 }, { intervention: 'the supervisor restarts the killed process' }),
  fakeRun('exp3-loss', 'before', { result: 'held', mttr_s: 0, load: { per_fault: loss([1, 1.25, 1.7]), amplification_of: 'calls per create' } }),
  fakeRun('exp3-loss', 'after', { result: 'held', mttr_s: null, load: { per_fault: loss([1, 1, 1.02]), amplification_of: 'calls per create' } }),
];

test('the demo report: the ramp and what stopped it, the recovery ranking, a sweep plot — and no script, no external link', () => {
  const { md, html, json } = written(summary(RUNS()), 'full');
  // The ramp: what stopped it in words, then every step.
  assert.match(md, /Breakpoint ramp \(every step below, with mitigations \{"preset":"all"\}\): it stopped because the SLO \(p99<250ms,errors<0\.1%\) broke at 150 req\/s: p99 731 ms, errors 0\.40 %/);
  assert.match(md, /Steady rate \*\*65 req\/s\*\* .*65 req\/s = 65 % of the breakpoint, 100 req\/s/);
  assert.match(md, /## Breakpoint ramp\n\n\| planned \| sent \| achieved \| p99 \(all requests\) \| p99 per endpoint \| errors \| dispatch lag p99 \| verdict \|/);
  assert.match(md, /\| 150 req\/s \| 149\.6 req\/s \| 149\.1 req\/s \| 731 ms \| get_order 30 ms, create_order 45 ms \| 0\.40 % \| 3 ms \| SLO broke: p99 731ms ≥ 250ms \|/);
  assert.equal((html.match(/<h2>Breakpoint ramp<\/h2>/g) ?? []).length, 1);
  // The recovery ranking, in MTTR order, the unrecovered last.
  const ranking = md.slice(md.indexOf('## Recovery ranking (experiment 8)'));
  const order = ['| 1 | exp3-loss | before |', '| 2 | exp2-kill | after |', '| 3 | exp2-kill | before |', '| 4 | exp3-loss | after |'].map((row) => ranking.indexOf(row));
  assert.ok(order.every((i, k) => i > 0 && (k === 0 || i > order[k - 1])), `ranking order: ${order}`);
  assert.match(ranking, /\| 2 \| exp2-kill \| after \| 0\.40 s \(server\) \| yes \(20\.0 s window\) \| — \| needs: the supervisor restarts the killed process \| held \|/);
  assert.match(ranking, /\| exp3-loss \| before \|[^\n]*self-heals once the fault ends/);
  assert.match(ranking, /\| exp3-loss \| after \|[^\n]*did not recover in the window/);
  assert.match(html, /<h2>Recovery ranking \(experiment 8\)<\/h2>/);
  assert.deepEqual(json.recovery.map((r) => `${r.key} ${r.variant}`), ['exp3-loss before', 'exp2-kill after', 'exp2-kill before', 'exp3-loss after']);
  assert.equal(json.breakpoint?.steps.length, 3);
  // The sweep: one plot (html), one table (both), axis from the fault's type and parameter.
  assert.equal((html.match(/<svg class="sweep"/g) ?? []).length, 1);
  assert.match(md, /## Sweep: exp3-loss: effective\/offered \(calls per create\) against loss pct/);
  assert.match(md, /\| 5 \| ×1\.25 \(100 → 125\) \| ×1\.00 \(100 → 100\) \|/);
  assert.match(html, /<th>loss pct<\/th>/);
  // Self-contained: no script, no link off this machine.
  assert.doesNotMatch(html, /<script/i);
  assert.doesNotMatch(html, /https?:\/\/(?!127\.)/);
  assert.doesNotMatch(html, /src=/);
});

test('no sweep section unless both variants swept; a fixed rate has no ramp section; a generator-bound ramp says so', () => {
  const runs = RUNS();
  runs[3] = fakeRun('exp3-loss', 'after', { load: { per_fault: loss([1, 1, 1]).slice(0, 1) } });
  const { md, html } = written(summary(runs, null), 'nosweep');
  assert.doesNotMatch(md, /## Sweep/);
  assert.doesNotMatch(html, /<svg class="sweep"/);
  assert.doesNotMatch(md + html, /Breakpoint ramp/);
  assert.match(md, /Steady rate \*\*65 req\/s\*\* of the default mix .*fixed by the plan/);

  const bound: RampSummary = {
    ...RAMP,
    status: 'generator_limit',
    stopped_by: 'generator',
    breakpoint_is_lower_bound: true,
    broken_at_rps: null,
    steps: [step(50), step(100), step(150, { valid: false, sent_rps: 131.2, dispatch_lag_p99_ms: 90, generator_dropped: 40, limited_by: ['dispatch lag p99 90 ms > 50 ms (median over the step)'] })],
  };
  const g = written(summary(RUNS(), bound), 'bound');
  assert.match(g.md, /the load generator could no longer keep its rate at 150 req\/s \(its own figures: sent 131\.2 req\/s of 150 req\/s, dispatch lag p99 90 ms, 40 arrivals dropped/);
  assert.match(g.md, /the breakpoint, 100 req\/s, is a lower bound/);
  assert.match(g.md, /65 % of the breakpoint, 100 req\/s \(a lower bound\)/);
  assert.match(g.md, /\| 150 req\/s \| 131\.2 req\/s \|[^\n]*\| 90 ms \| generator-bound: dispatch lag p99 90 ms > 50 ms/);
  assert.doesNotMatch(g.html, /<script/i);
});
