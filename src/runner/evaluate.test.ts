import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeriesStore } from '../metrics/store.ts';
import { computeVerdict, mttrSeconds, timeToDetect, type Marks } from './evaluate.ts';
import { parseExperiment, type Experiment } from './schema.ts';
import { resolvedForTests } from './testing.ts';

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
