import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeriesStore } from '../metrics/store.ts';
import { runSweeps, runSweepSvg, runSweepTable, serviceWindows, type RunSweepInput } from './run-sweep.ts';

const quota = (pct: number) => ['orders-1', 'orders-2'].map((target) => ({ type: 'cpu_quota', target, params: { pct } }));
const users = (p99: number, avail: number) => ({ baseline_p99: 60, fault_p99: p99, baseline_err_rate: 0, fault_err_rate: 0, fault_availability: avail, from: {}, n: { baseline: 100, fault: 100, fault_availability: 400 } });
function run(key: string, variant: string, faults: RunSweepInput['faults'], p99: number, cpu = 50): RunSweepInput {
  return {
    key,
    variant,
    verdict: { result: p99 > 1000 ? 'failed' : 'held', figures: { users: users(p99, 0.999), server: null } as never, fault_p99: null, fault_availability: null },
    faults,
    services: { 'orders-1': { cpu_pct: cpu, eld_p99_ms: 12, gc_pause_ms: 30, shed: null }, api: { cpu_pct: 40, eld_p99_ms: 3, gc_pause_ms: 10, shed: 7 } },
  };
}

test('runs that differ in one numeric param of one fault type on the same targets are one sweep, a line per variant', () => {
  const runs = [
    run('exp1-payments-latency', 'before', [{ type: 'latency', target: 'payments', params: { delay_ms: 300 } }], 4000),
    run('exp5-cpu-quota-100', 'before', quota(100), 90, 31),
    run('exp5-cpu-quota-100', 'after', quota(100), 95, 33),
    run('exp5-cpu-quota-10', 'before', quota(10), 2400, 9.9),
    run('exp5-cpu-quota-10', 'after', quota(10), 400, 9.8),
    // A sweep inside one run (its faults differ) is not a point of a sweep across runs.
    run('exp6-memory-orders', 'before', [{ type: 'memory_limit', target: 'orders-1', params: { mib: 160 } }, { type: 'memory_limit', target: 'orders-1', params: { mib: 96 } }], 100),
  ];
  const found = runSweeps(runs);
  assert.equal(found.length, 1, 'exp1 alone has one point; exp6 is not a sweep across runs');
  const [s] = found;
  assert.deepEqual([s.type, s.param, s.targets], ['cpu_quota', 'pct', ['orders-1', 'orders-2']]);
  assert.deepEqual(s.lines.map((l) => [l.variant, l.points.map((p) => [p.x, p.write_p99_ms])]), [['before', [[10, 2400], [100, 90]]], ['after', [[10, 400], [100, 95]]]]);
  const t = runSweepTable(s);
  assert.deepEqual(t.rows[0], ['10', 'before', 'FAILED', '2400 ms', '99.90 %', '9.9 % · 12 ms · 30 ms', '—', '7'], 'orders-2 exported nothing: a dash, not a zero');
  assert.match(runSweepSvg(s), /^<svg[^>]*aria-label="users' write p99 under the fault against cpu_quota pct on orders-1, orders-2/);
});

test('one experiment, or a param that is not a number, is no sweep', () => {
  assert.deepEqual(runSweeps([run('a', 'before', quota(10), 100), run('a', 'after', quota(10), 100)]), []);
  const mode = (m: string) => [{ type: 'latency', target: 'payments', params: { mode: m } }];
  assert.deepEqual(runSweeps([run('a', 'before', mode('x'), 100), run('b', 'before', mode('y'), 100)]), []);
});

test("a service's window: CPU share, worst event-loop delay p99, GC pause time and shed requests, from its own series", () => {
  const store = new SeriesStore();
  const t0 = 1_000_000;
  for (let k = 0; k <= 10; k++) {
    const t = t0 + k * 1000;
    store.add(t, 'process_cpu_seconds_total', { service: 'orders-1' }, 5 + k * 0.1);
    store.add(t, 'lab_event_loop_delay_p99_seconds', { service: 'orders-1' }, k === 5 ? 0.25 : 0.01);
    store.add(t, 'lab_gc_pause_seconds_total', { service: 'orders-1', kind: 'minor' }, k * 0.002);
    store.add(t, 'lab_gc_pause_seconds_total', { service: 'orders-1', kind: 'major' }, k * 0.001);
    store.add(t, 'lab_shed_requests_total', { service: 'api', pool: 'reads' }, k * 3);
  }
  const w = serviceWindows(store, t0, t0 + 10_000);
  assert.deepEqual(w['orders-1'], { cpu_pct: 10, eld_p99_ms: 250, gc_pause_ms: 30, shed: null });
  assert.deepEqual(w.api, { cpu_pct: null, eld_p99_ms: null, gc_pause_ms: null, shed: 30 });
});
