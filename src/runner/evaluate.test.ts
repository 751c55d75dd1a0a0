import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeriesStore } from '../metrics/store.ts';
import { computeVerdict, counterFigures, faultSegments, mttrSeconds, timeToDetect, type Marks } from './evaluate.ts';
import { parseExperiment, type Experiment } from './schema.ts';
import { resolvedForTests, SYNTHETIC_SYSTEM } from './testing.ts';

const LES = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, Infinity];
const S = 1000;

/**
 * A synthetic api: one scrape per second for `seconds` s; each second `rps` POST /orders and `rps` GET /orders/:id
 * finish, with the latency (s) and 5xx count `shape` gives for that second.
 */
function syntheticStore(seconds: number, shape: (sec: number) => { post_s: number; post_5xx: number }, rps = 20): SeriesStore {
  const store = new SeriesStore();
  const cum = new Map<string, number>();
  const bump = (name: string, labels: Record<string, string>, by: number): number => {
    const k = `${name}${JSON.stringify(labels)}`;
    const v = (cum.get(k) ?? 0) + by;
    cum.set(k, v);
    return v;
  };
  for (let sec = 0; sec <= seconds; sec++) {
    const t = sec * S;
    const { post_s, post_5xx } = sec === 0 ? { post_s: 0.02, post_5xx: 0 } : shape(sec);
    const n = sec === 0 ? 0 : rps;
    const routes: [string, string, number, number][] = [
      ['POST', '/orders', post_s, post_5xx],
      ['GET', '/orders/:id', 0.005, 0],
    ];
    for (const [method, route, lat, errs] of routes) {
      for (const [status, count] of [['201', n - errs], ['502', errs]] as const) {
        const labels = { service: 'api', method, route, status };
        for (const le of LES) store.add(t, 'lab_http_request_duration_seconds_bucket', { ...labels, le: le === Infinity ? '+Inf' : String(le) }, bump(`b${le}`, labels, lat <= le ? count : 0));
        store.add(t, 'lab_http_request_duration_seconds_count', labels, bump('c', labels, count));
      }
    }
    store.add(t, 'up', { service: 'api' }, 1);
  }
  return store;
}

function experiment(over: { steady?: number; slo?: number; consecutive?: number } = {}): Experiment {
  return resolvedForTests(parseExperiment(
    {
      title: 't',
      hypothesis: {
        name: 'h',
        window_s: 3,
        sli: [
          { name: 'write_p99_ms', source: 'server', metric: 'latency_ms', service: 'api', method: 'POST', route: '/orders', steady_state: over.steady ?? 250, slo_threshold: over.slo ?? 1000 },
          { name: 'read_avail', source: 'server', metric: 'availability', service: 'api', method: 'GET', route: '/orders/:id', steady_state: 0.999, critical: true },
        ],
      },
      windows: { warmup_s: 0, baseline_s: 10, fault_s: 10, recovery_s: 20 },
      load: { rate: 40, seed: 1 },
      faults: [{ type: 'latency', target: 'payments', params: { delay_ms: 300 } }],
      recovery: { consecutive_s: over.consecutive ?? 3 },
      integrity: { enabled: false },
    },
    '/tmp/x.yaml',
  ));
}

// Fault from 10 s to 20 s (reverted at 20 s); the system needs `delay` more seconds to heal.
const marks: Marks = { start: 0, baseline_start: 0, fault_start: 10 * S, first_inject: 10 * S, last_revert: 20 * S, fault_end: 20 * S, recovery_end: 40 * S };
const slowUntil = (healAt: number, slow = 0.4) => (sec: number) => ({ post_s: sec > 10 && sec <= healAt ? slow : 0.02, post_5xx: 0 });

test('MTTR on a synthetic series with a known recovery delay is exact within one scrape interval', () => {
  for (const delay of [0, 3, 7]) {
    const store = syntheticStore(40, slowUntil(20 + delay));
    const mttr = mttrSeconds(store, experiment(), marks.last_revert!, marks.recovery_end);
    assert.ok(mttr !== null && Math.abs(mttr - delay) <= 1, `delay ${delay} s → MTTR ${mttr}`);
  }
  // Never healed: null.
  assert.equal(mttrSeconds(syntheticStore(40, slowUntil(99)), experiment(), marks.last_revert!, marks.recovery_end), null);
  // Needs N consecutive good seconds: a relapse restarts the count.
  const relapse = syntheticStore(40, (sec) => ({ post_s: (sec > 10 && sec <= 22) || sec === 24 ? 0.4 : 0.02, post_5xx: 0 }));
  const m = mttrSeconds(relapse, experiment({ consecutive: 3 }), marks.last_revert!, marks.recovery_end);
  assert.ok(m !== null && Math.abs(m - 4) <= 1, `relapse → ${m}`);
});

test('time to detect: the first interval out of steady state after the inject', () => {
  const store = syntheticStore(40, (sec) => ({ post_s: sec > 13 && sec <= 20 ? 0.4 : 0.02, post_5xx: 0 }));
  assert.equal(timeToDetect(store, experiment(), 10 * S, 20 * S), 4);
});

test('a lenient and a strict hypothesis give different verdicts on the SAME series', () => {
  const store = syntheticStore(40, slowUntil(23)); // 400 ms p99-ish writes under the fault, healed 3 s after revert
  const lenient = computeVerdict({ experiment: experiment({ slo: 1000 }), store, marks });
  const strict = computeVerdict({ experiment: experiment({ slo: 300 }), store, marks });
  assert.equal(lenient.result, 'held', lenient.reasons.join('; '));
  assert.equal(strict.result, 'degraded', strict.reasons.join('; '));
  assert.ok(strict.blast_radius_endpoints.includes('api POST /orders'));
  for (const v of [lenient, strict]) {
    assert.ok(v.baseline_p99! <= 50 && v.fault_p99! > 250, `p99 ${v.baseline_p99} → ${v.fault_p99}`);
    assert.ok(Math.abs(v.mttr_s! - 3) <= 1);
    assert.equal(v.time_to_detect_s, 1);
    assert.equal(v.fault_availability, 1);
    // No error-rate SLI is declared: the headline has no error figure rather than one made up from a default route.
    assert.equal(v.fault_err_rate, null);
    assert.deepEqual(v.figures.server.from, { latency: 'write_p99_ms', error_rate: null, availability: 'read_avail' });
  }
});

test('verdict rules: invalid baseline, aborted, failed (no recovery, cascade), degraded', () => {
  const healthy = syntheticStore(40, slowUntil(23));
  const broken = computeVerdict({ experiment: experiment({ steady: 5 }), store: healthy, marks });
  assert.equal(broken.result, 'invalid');
  assert.match(broken.reasons[0], /baseline: write_p99_ms/);
  assert.equal(computeVerdict({ experiment: experiment(), store: healthy, marks, stop: { condition: 'x', at: 15 * S } }).result, 'aborted');
  const never = computeVerdict({ experiment: experiment(), store: syntheticStore(40, slowUntil(99, 2)), marks });
  assert.equal(never.result, 'failed');
  assert.match(never.reasons.join(), /did not recover/);
  // Reads failing under a payments fault: the failure spread to a critical SLI.
  const cascade = syntheticStore(40, slowUntil(23));
  for (const sec of [15, 16]) {
    const prev = cascade.select('lab_http_request_duration_seconds_count', { method: 'GET', status: '502' })[0];
    prev.points[sec][1] += 5 * (sec - 14);
    for (let k = sec + 1; k < prev.points.length; k++) prev.points[k][1] += 5;
  }
  const c = computeVerdict({ experiment: experiment(), store: cascade, marks });
  assert.equal(c.result, 'failed', c.reasons.join('; '));
  assert.match(c.reasons.join(), /cascade: critical SLI read_avail/);
});

test('faultSegments: the amplification counter over each fault of a sweep, fault times in epoch seconds', () => {
  // 40 s at 10 offered writes a second; the dependency is called once per write, 1.2 times under the first step
  // of the sweep (10–20 s), twice under the second (20–30 s), and once again after.
  const T0 = Date.UTC(2026, 0, 1);
  const store = new SeriesStore();
  let offered = 0;
  let calls = 0;
  for (let sec = 0; sec <= 40; sec++) {
    if (sec > 0) {
      offered += 10;
      calls += sec > 10 && sec <= 20 ? 12 : sec > 20 && sec <= 30 ? 20 : 10;
    }
    store.add(T0 + sec * S, 'faultline_load_offered_total', { endpoint: 'create' }, offered);
    store.add(T0 + sec * S, 'dep_calls_total', { dependency: 'backend' }, calls);
  }
  const system = { ...SYNTHETIC_SYSTEM, counters: [{ name: 'backend_calls', metric: 'dep_calls_total', labels: { dependency: 'backend' }, per_endpoint: 'create' }] };
  // experiment() is resolved against the synthetic system already: only its counters change here.
  const exp = { ...experiment(), resolved: system };
  const f0 = T0 + 10 * S;
  const amp = counterFigures(store, exp, [T0, f0], [f0, T0 + 30 * S]).find((c) => c.per_endpoint !== undefined);
  const sweep = [
    { name: 'step-1', fault_type: 'loss', params: { pct: 1 }, t_start: (T0 + 10 * S) / 1000, t_stop: (T0 + 20 * S) / 1000 },
    { name: 'step-5', fault_type: 'loss', params: { pct: 5 }, t_start: (T0 + 20 * S) / 1000, t_stop: (T0 + 30 * S) / 1000 },
    // Never reverted: it counts to the end given (the last revert).
    { fault_type: 'loss', params: { pct: 5 }, t_start: (T0 + 25 * S) / 1000 },
  ];
  const segs = faultSegments(store, amp, exp, sweep, f0, T0 + 30 * S);
  assert.deepEqual(
    segs.map((g) => [g.fault, g.from_s, g.to_s, g.offered, g.effective, g.ratio]),
    [
      ['step-1', 0, 10, 100, 120, 1.2],
      ['step-5', 10, 20, 100, 200, 2],
      ['loss', 15, 20, 50, 100, 2],
    ],
  );
  assert.deepEqual(segs[0].params, { pct: 1 });
  // Without a counter per endpoint there is nothing to divide by.
  assert.deepEqual(faultSegments(store, undefined, exp, sweep, f0, T0 + 30 * S), []);
  // computeVerdict carries them as load.per_fault.
  const marksT = { start: T0, baseline_start: T0, fault_start: f0, first_inject: f0, last_revert: T0 + 30 * S, fault_end: T0 + 30 * S, recovery_end: T0 + 40 * S };
  const v = computeVerdict({ experiment: exp, store, marks: marksT, faults: sweep.slice(0, 2) });
  assert.deepEqual(v.load.per_fault.map((g) => g.ratio), [1.2, 2]);
});
