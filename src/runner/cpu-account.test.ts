import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOAD_PROCESS_CPU } from '../metrics/load-series.ts';
import { SeriesStore } from '../metrics/store.ts';
import { cpuAccount } from './cpu-account.ts';
import type { ProcessSeries } from './target.ts';

const SERIES: ProcessSeries = {
  by: 'instance',
  state: { name: 'process', series: 'st', by: 'instance' },
  cpu: 'cpu_total',
  resident: 'rss',
  host_busy: 'host_total',
  host_cpus: 'cpus',
  controller: { series: 'ctl_cpu_total', labels: { service: 'controller' }, pid: -1 },
};

// 30 one-second scrapes: baseline 0–10 s, fault 10–20 s, recovery 20–30 s (t in ms from 0).
const marks = { start: 0, baseline_start: 0, fault_start: 10_000, first_inject: 10_000, last_revert: 20_000, fault_end: 20_000, recovery_end: 30_000 };

function store(): SeriesStore {
  const s = new SeriesStore();
  let db = 0;
  let app = 0;
  for (let i = 0; i <= 30; i++) {
    const t = i * 1000;
    db += i <= 10 ? 0.2 : 0.5; // 20 % of a core, then 50 %
    // The app restarts at 15 s: its counter starts again from 0 (its CPU rate stays 10 %).
    app = i === 15 ? 0.1 : app + 0.1;
    s.add(t, 'cpu_total', { service: 'controller', instance: 'db' }, db);
    s.add(t, 'cpu_total', { service: 'controller', instance: 'app' }, app);
    s.add(t, 'rss', { service: 'controller', instance: 'app' }, (i > 10 && i <= 20 ? 300 : 100) * 2 ** 20);
    s.add(t, 'host_total', { service: 'controller' }, i * 1.0); // 100 % of a core throughout
    s.add(t, 'ctl_cpu_total', { service: 'controller' }, i * 0.05);
    s.add(t, LOAD_PROCESS_CPU, {}, i * 0.1);
    s.add(t, 'cpus', { service: 'controller' }, 2);
  }
  return s;
}

test('each phase: every instance, faultline itself, the machine and the rest, which adds up to the machine', () => {
  const a = cpuAccount(store(), SERIES, marks)!;
  assert.deepEqual(a.phases.map((p) => p.name), ['baseline', 'fault', 'recovery']);
  assert.equal(a.cpus, 2);
  assert.deepEqual(a.rows.map((r) => r.instance), ['db', 'app'], 'busiest under the fault first');
  assert.deepEqual(a.rows[0].cpu_pct, [20, 50, 50]);
  assert.deepEqual(a.rows[1].cpu_pct, [10, 10, 10], 'a restart (counter reset) is not a negative or lost stretch');
  assert.deepEqual(a.rows[1].peak_mib, [100, 300, 100]);
  assert.deepEqual(a.host_pct, [100, 100, 100]);
  assert.deepEqual(a.faultline.map((r) => [r.instance, r.cpu_pct]), [
    ['faultline controller (proxies, chaos API)', [5, 5, 5]],
    ['faultline runner and load generator', [10, 10, 10]],
  ]);
  assert.deepEqual(a.other_pct, [55, 25, 25]);
});

test('the controller in this very process is one row, not two; no supervisor series, no account', () => {
  const same = cpuAccount(store(), { ...SERIES, controller: { ...SERIES.controller!, pid: process.pid } }, marks)!;
  assert.deepEqual(same.faultline.map((r) => r.instance), ['faultline (controller, runner and load generator: one process)']);
  assert.equal(cpuAccount(new SeriesStore(), SERIES, marks), undefined);
});
