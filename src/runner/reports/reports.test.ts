import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeriesStore } from '../../metrics/store.ts';
import { computeVerdict, timeline, type FaultSegment, type Marks, type Verdict } from '../evaluate.ts';
import type { RunRecord } from '../record.ts';
import { parseExperiment } from '../schema.ts';
import { REPORTS } from './index.ts';
import { resolvedForTests } from '../testing.ts';

/** A synthetic run: 10 s of baseline, 10 s of slow writes under one fault, 10 s of recovery. */
function syntheticRun(): { record: RunRecord; verdict: Verdict } {
  const store = new SeriesStore();
  const les = ['0.05', '0.5', '+Inf'];
  let fast = 0;
  let slow = 0;
  for (let sec = 0; sec <= 30; sec++) {
    const t = sec * 1000;
    if (sec > 0 && sec > 10 && sec <= 20) slow += 10;
    else if (sec > 0) fast += 10;
    const labels = { service: 'api', method: 'POST', route: '/orders', status: '201' };
    store.add(t, 'lab_http_request_duration_seconds_bucket', { ...labels, le: les[0] }, fast);
    store.add(t, 'lab_http_request_duration_seconds_bucket', { ...labels, le: les[1] }, fast + slow);
    store.add(t, 'lab_http_request_duration_seconds_bucket', { ...labels, le: les[2] }, fast + slow);
    store.add(t, 'lab_http_request_duration_seconds_count', labels, fast + slow);
    store.add(t, 'up', { service: 'api' }, 1);
  }
  const experiment = resolvedForTests(parseExperiment(
    {
      title: 'synthetic <run>',
      hypothesis: { name: 'h', window_s: 2, sli: [{ name: 'p99', source: 'server', metric: 'latency_ms', route: '/orders', method: 'POST', steady_state: 100, slo_threshold: 200 }] },
      windows: { warmup_s: 0, baseline_s: 10, fault_s: 10, recovery_s: 10 },
      load: { rate: 10, seed: 1 },
      faults: [{ type: 'latency', target: 'payments' }],
      integrity: { enabled: false },
    },
    '/tmp/s.yaml',
  ));
  const marks: Marks = { start: 0, baseline_start: 0, fault_start: 10_000, first_inject: 10_000, last_revert: 20_000, fault_end: 20_000, recovery_end: 30_000 };
  const verdict = computeVerdict({ experiment, store, marks });
  const record: RunRecord = {
    faultline_run: 1,
    experiment,
    experiment_text: '',
    started_at: new Date(0).toISOString(),
    ended_at: new Date(30_000).toISOString(),
    marks,
    fault_events: [{ id: 'f1', fault_type: 'latency', target: 'payments', params: {}, mechanism: 'proxy', t_start: 10, t_stop: 20, t_planned_stop: 20 }],
    mitigations: { requested: {}, applied: 'none requested' },
    notes: [],
    load_summary: null,
    lab: { base_port: 1, state_dir: '/tmp' },
    timeline: timeline(store, experiment, 0, 30_000, [0, 10_000, 20_000]),
    state_changes: { precision_s: 1, changes: [{ name: 'breaker', service: 'orders-1', of: 'payments', t_s: 2, at_ms: 12_000, from: 'closed', to: 'open' }] },
  };
  return { record, verdict };
}

test('every report format renders a synthetic run: HTML charts with the shaded fault window, JUnit, journal', () => {
  const { record, verdict } = syntheticRun();
  assert.equal(verdict.result, 'degraded');
  const out = Object.fromEntries(REPORTS.map((r) => [r.file, r.render(record, verdict)]));
  assert.match(out['report.md'], /\| 2\.0 \| orders-1 \| breaker \(payments\) \| closed → open \|/);
  assert.match(out['report.html'], /<line class="state" x1="[\d.]+"[^>]*><title>orders-1 breaker \(payments\): closed → open at 2\.0 s<\/title>/);
  assert.match(out['report.html'], /<h2>State changes<\/h2>/);
  assert.deepEqual(Object.keys(out).sort(), ['journal.json', 'junit.xml', 'report.html', 'report.md']);
  assert.match(out['report.html'], /<rect class="fault" x="[\d.]+"/);
  assert.equal((out['report.html'].match(/<svg class="chart"/g) ?? []).length, 1);
  assert.match(out['report.html'], /synthetic &lt;run&gt;/); // escaped
  assert.match(out['report.html'], /recovered \(MTTR 0\.0 s\)/);
  assert.match(out['junit.xml'], /failures="2"/); // the verdict and the under-fault SLI
  const journal = JSON.parse(out['journal.json']);
  assert.equal(journal.status, 'completed');
  assert.equal(journal.deviated, true);
  assert.equal(journal.steady_states.before.steady_state_met, true);
  assert.ok(journal.steady_states.during.some((d: { steady_state_met: boolean }) => !d.steady_state_met));
  assert.match(out['report.md'], /\*\*Verdict: DEGRADED\*\*/);
});

test('a per-fault table in report.md and report.html exactly when the verdict has two or more fault segments', () => {
  const { record, verdict } = syntheticRun();
  const seg = (pct: number, from: number, ratio: number): FaultSegment => ({ fault: `loss-${pct}`, type: 'loss', params: { pct }, from_s: from, to_s: from + 5, offered: 100, effective: 100 * ratio, ratio });
  const render = (per_fault: FaultSegment[]) => {
    const v: Verdict = { ...verdict, load: { ...verdict.load, amplification_of: 'calls per create', per_fault } };
    return { md: REPORTS.find((r) => r.file === 'report.md')!.render(record, v), html: REPORTS.find((r) => r.file === 'report.html')!.render(record, v) };
  };
  const sweep = render([seg(1, 0, 1), seg(5, 5, 1.25)]);
  assert.match(sweep.md, /### Per fault: calls per create per offered request while each fault was on/);
  assert.match(sweep.md, /\| loss-5 \| loss \| \{"pct":5\} \| 5–10 \| 100 \| 125 \| ×1\.25 \|/);
  assert.match(sweep.html, /<h2>Per fault: calls per create/);
  assert.match(sweep.html, /<td>loss-1<\/td><td>loss<\/td><td>\{&quot;pct&quot;:1\}<\/td>/);
  for (const one of [render([seg(1, 0, 1)]), render([])]) {
    assert.doesNotMatch(one.md, /Per fault/);
    assert.doesNotMatch(one.html, /Per fault/);
  }
});
