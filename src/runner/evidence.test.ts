/**
 * Users' verdicts on synthetic per-request records with known answers: time to detect and MTTR exact within
 * 100 ms, a frozen edge judged from what users saw (nothing answered = evidence), a tiny sample inconclusive,
 * a large real effect degraded with an interval that excludes zero. No server series at all: the store is empty,
 * so any verdict here comes from the users' records alone.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Outcome } from '../load/samples.ts';
import { RequestLog } from '../metrics/requests.ts';
import { SeriesStore } from '../metrics/store.ts';
import { computeVerdict, type Marks } from './evaluate.ts';
import { usersDetect, usersMttr } from './evidence.ts';
import { parseExperiment, type Experiment } from './schema.ts';
import { resolvedForTests } from './testing.ts';

const S = 1000;
const MIX = new URL('../../experiments/mixes/lab-default.yaml', import.meta.url).pathname;
const ENDPOINTS = ['get_order', 'create_order'];

/** What request i (intended at t ms) came to: its latency and outcome. */
type Shape = (t: number, endpoint: string) => { ms: number; outcome: Outcome };

/** Requests every 1000/rate ms from 0 to `until`; every 5th is a write (20 %), like the lab's mix. */
function synth(shape: Shape, { rate = 40, until = 40 * S, timeout = 1000 } = {}): RequestLog {
  const log = new RequestLog(ENDPOINTS, timeout);
  for (let i = 0; i * (1000 / rate) < until; i++) {
    const t = i * (1000 / rate);
    const ep = i % 5 === 0 ? 1 : 0;
    const r = shape(t, ENDPOINTS[ep]);
    log.add({ i, endpoint: ep, intended_ms: t, done_ms: t + r.ms, outcome: r.outcome, status: r.outcome === 'ok' ? 200 : 0 });
  }
  return log;
}

function experiment(over: { consecutive?: number; rate?: number } = {}): Experiment {
  return resolvedForTests(parseExperiment(
    {
      title: 'users',
      hypothesis: {
        name: 'h',
        window_s: 3,
        sli: [
          { name: 'write_p99_ms', metric: 'latency_ms', endpoint: 'create_order', steady_state: 250, slo_threshold: 1000 },
          { name: 'write_errors', metric: 'error_rate', endpoint: 'create_order', steady_state: 0.001, slo_threshold: 0.01 },
          { name: 'read_avail', metric: 'availability', endpoint: 'get_order', service: 'api', method: 'GET', route: '/orders/:id', steady_state: 0.999, critical: true },
        ],
      },
      windows: { warmup_s: 0, baseline_s: 10, fault_s: 10, recovery_s: 20 },
      load: { rate: over.rate ?? 40, seed: 1, mix: MIX },
      faults: [{ type: 'pause', target: 'api' }],
      recovery: { consecutive_s: over.consecutive ?? 3 },
      integrity: { enabled: false },
    },
    '/tmp/users.yaml',
  ));
}

const marks: Marks = { start: 0, baseline_start: 0, fault_start: 10 * S, first_inject: 10 * S, last_revert: 20 * S, fault_end: 20 * S, recovery_end: 40 * S };
const ok = (ms: number) => ({ ms, outcome: 'ok' as const });

/** Healthy at 20 ms; frozen (every request times out at 1 s) in [10, 20) s; slow (400 ms) until `healAt` ms. */
const frozenThenSlow = (healAt: number): Shape => (t) => (t >= 10 * S && t < 20 * S ? { ms: 1000, outcome: 'timeout' } : t >= 20 * S && t < healAt ? ok(400) : ok(20));

test('time to detect and MTTR from per-request records are exact within 100 ms', () => {
  const exp = experiment();
  for (const heal of [20_000, 22_300, 25_600]) {
    const log = synth(frozenThenSlow(heal));
    // Detection: the first write due in the freeze (at 10.000 s) is outstanding; its age passes 250 ms at 10.25 s.
    const ttd = usersDetect(log, exp.hypothesis.sli, 10 * S, 20 * S);
    assert.ok(ttd !== null && Math.abs(ttd - 0.25) <= 0.1, `heal ${heal}: TTD ${ttd}`);
    // Recovery: users who arrived from `heal` on got 20 ms answers; MTTR = heal − revert.
    const m = usersMttr(log, exp.hypothesis.sli, 20 * S, 40 * S, 3);
    const want = (heal - 20_000) / 1000;
    assert.ok(m.mttr_s !== null && Math.abs(m.mttr_s - want) <= 0.1, `heal ${heal}: MTTR ${m.mttr_s}, want ${want}`);
  }
  // A relapse inside the stretch restarts it: slow again in [23, 23.5) s after healing at 21 s. The last slow
  // write is the one due at 23.375 s (writes come every 125 ms), so the stretch starts at the next arrival, 23.4 s.
  const relapse = synth((t) => (t >= 10 * S && t < 20 * S ? { ms: 1000, outcome: 'timeout' } : (t >= 20 * S && t < 21 * S) || (t >= 23 * S && t < 23.5 * S) ? ok(400) : ok(20)));
  const m = usersMttr(relapse, exp.hypothesis.sli, 20 * S, 40 * S, 3);
  assert.ok(m.mttr_s !== null && Math.abs(m.mttr_s - 3.4) <= 0.001, `relapse → ${m.mttr_s}`);
  // Never healed: null, and known (the stretches were judged).
  const never = usersMttr(synth(frozenThenSlow(99_000)), exp.hypothesis.sli, 20 * S, 40 * S, 3);
  assert.deepEqual(never, { mttr_s: null, unknown: false });
});

test('a frozen edge: nothing answered is a breach; the verdict fails with users\' error rate 100 %', () => {
  const log = synth(frozenThenSlow(20_000));
  const v = computeVerdict({ experiment: experiment(), store: new SeriesStore(), requests: log, marks });
  assert.equal(v.result, 'failed', v.reasons.join('; '));
  assert.equal(v.figures_source, 'users');
  assert.ok(v.fault_err_rate! > 0.95, `fault error rate ${v.fault_err_rate}`);
  assert.ok(v.fault_availability! < 0.05, `read availability ${v.fault_availability}`);
  const reads = v.slis.find((s) => s.name === 'read_avail')!;
  assert.equal(reads.status, 'breached');
  assert.equal(reads.source, 'users');
  // The server could not be read at all (no scrapes): its figures are unknown, never good.
  assert.equal(reads.other?.fault.value, null);
  assert.match(v.reasons.join(), /cascade: critical SLI read_avail/);
  // The recovery curve starts at the revert and ends healthy.
  const curve = v.slis.find((s) => s.name === 'write_p99_ms')!.recovery_curve.users;
  assert.equal(curve[0].t_s, 0);
  assert.equal(curve.at(-1)!.value, 20);
});

test('a tiny sample is inconclusive, with the sample size it would need', () => {
  // 4 req/s: ~8 writes in the baseline and ~8 under the fault, all healthy. p99 needs 100.
  const log = synth(() => ok(20), { rate: 4 });
  const v = computeVerdict({ experiment: experiment({ rate: 4 }), store: new SeriesStore(), requests: log, marks });
  assert.equal(v.result, 'inconclusive', v.reasons.join('; '));
  const need = v.samples.find((x) => x.sli === 'write_p99_ms' && x.phase === 'fault')!;
  assert.ok(need.n >= 8 && need.n <= 10, `n ${need.n}`);
  assert.equal(need.needed, 100);
  assert.match(v.reasons.join(), /needs ≥ 100/);
  // The same healthy run at 60 req/s holds (120 writes per phase).
  const big = computeVerdict({ experiment: experiment({ rate: 60 }), store: new SeriesStore(), requests: synth(() => ok(20), { rate: 60 }), marks });
  assert.equal(big.result, 'held', big.reasons.join('; '));
});

test('a large real effect is degraded, with intervals that exclude zero', () => {
  // Writes take 1.5 s and 3 of every 8 (37.5 %) fail under the fault; reads are untouched; healed at the revert.
  const timeout = 10_000;
  const shape: Shape = (t, ep) => (ep === 'create_order' && t >= 10 * S && t < 20 * S ? (t % 1000 < 300 ? { ms: 5, outcome: 'http_5xx' } : ok(1500)) : ok(20));
  const log = synth(shape, { timeout });
  const v = computeVerdict({ experiment: experiment(), store: new SeriesStore(), requests: log, marks });
  assert.equal(v.result, 'degraded', v.reasons.join('; '));
  const lat = v.slis.find((s) => s.name === 'write_p99_ms')!;
  assert.equal(lat.status, 'breached');
  const c = lat.comparisons.fault_vs_baseline;
  assert.equal(c.method, 'bootstrap');
  assert.ok(c.ci !== null && c.ci[0] > 1000 && c.significant, `p99 difference ${c.diff} ms, CI ${c.ci}`);
  const err = v.slis.find((s) => s.name === 'write_errors')!;
  const e = err.comparisons.fault_vs_baseline;
  assert.equal(e.method, 'newcombe');
  assert.ok(e.ci !== null && e.ci[0] > 0.2 && e.ci[1] < 0.6 && e.significant, `error difference ${e.diff}, CI ${e.ci}`);
  // Back to normal after the revert: recovery vs fault is significant the other way.
  const back = lat.comparisons.recovery_vs_fault;
  assert.ok(back.ci !== null && back.ci[1] < 0, `recovery − fault ${back.diff} ms, CI ${back.ci}`);
  assert.ok(v.mttr_s !== null && v.mttr_s <= 0.1, `MTTR ${v.mttr_s}`);
  assert.equal(v.slis.find((s) => s.name === 'read_avail')!.status, 'held');
});
