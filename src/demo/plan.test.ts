import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import { exitCodeFor, EXIT } from '../core/exit.ts';
import { DEMO_ALL_PLAN, DEMO_PLAN, demoPlanFile, deriveExperiment, loadPlan, plannedRuns, steadyRate } from './plan.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'fl-demo-plan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const bp = (status: 'found' | 'generator_limit' | 'not_reached' | 'below_start' | 'invalid', breakpoint_rps: number | null, max_rps = 864_000) => ({
  status,
  breakpoint_rps,
  breakpoint_is_lower_bound: status === 'generator_limit' || status === 'not_reached',
  max_rps,
});

test('the steady rate is fraction × the breakpoint, floored at min_rps and never capped', () => {
  // Far above the 100 req/s the plan used to clamp to: the measured breakpoint is what the lab sustains.
  assert.deepEqual(steadyRate(bp('found', 400), 0.65, 32), { rate_rps: 260, basis_rps: 400, lower_bound: false, floored: false });
  assert.equal(steadyRate(bp('found', 2000), 0.5, 32).rate_rps, 1000);
  // The generator gave out first: its lower bound is used, and said to be one.
  assert.deepEqual(steadyRate(bp('generator_limit', 300), 0.65, 32), { rate_rps: 195, basis_rps: 300, lower_bound: true, floored: false });
  // The SLO held to the safety cap: the cap is the (lower-bound) basis.
  assert.deepEqual(steadyRate(bp('not_reached', null, 600), 0.65, 32), { rate_rps: 390, basis_rps: 600, lower_bound: true, floored: false });
  // min_rps floors a small breakpoint, and stands in when the ramp found none.
  assert.deepEqual(steadyRate(bp('found', 40), 0.65, 32), { rate_rps: 32, basis_rps: 40, lower_bound: false, floored: true });
  for (const status of ['below_start', 'invalid'] as const) {
    assert.deepEqual(steadyRate(bp(status, null), 0.65, 32), { rate_rps: 32, basis_rps: null, lower_bound: false, floored: true });
  }
});

test('the committed demo plans: no rate cap, no ramp top; --all runs experiments 1–7, 9 and 10, before and after', () => {
  const plain = loadPlan(join(ROOT, DEMO_PLAN));
  assert.equal(plain.rate.breakpoint?.max_rps, undefined);
  assert.equal('max_rps' in plain.rate, false);
  assert.equal(plannedRuns(plain).length, 8);
  const all = loadPlan(join(ROOT, DEMO_ALL_PLAN));
  const runs = plannedRuns(all);
  assert.equal(runs.length, 22);
  const keys = [...new Set(runs.map((r) => r.key))];
  for (const n of [1, 2, 3, 4, 5, 6, 7, 9, 10]) assert.ok(keys.some((k) => k.startsWith(`exp${n}-`)), `exp${n} is planned`);
  assert.ok(!keys.some((k) => k.startsWith('exp8')), 'exp8 is the ranking built from the runs, not a run');
  assert.ok(keys.includes('exp5-cpu-quota-25'));
  // The after variant derives from the .mitigated.yaml beside each file; the key stays the listed file's.
  for (const r of runs) assert.equal(basename(r.base), r.variant.name === 'after' ? `${r.key}.mitigated.yaml` : `${r.key}.yaml`);
  // Every run derives into a valid experiment, and carries its own file's recovery.intervention.
  const derived = runs.map((r, i) => ({ r, exp: deriveExperiment(all, r, 100, 1000 + i, join(dir, 'all')) }));
  const intervention = (key: string, variant: string) => derived.find((d) => d.r.key === key && d.r.variant.name === variant)!.exp.recovery.intervention;
  assert.match(intervention('exp9-worker-crash', 'before') ?? '', /operator re-queues/);
  assert.match(intervention('exp9-worker-crash', 'after') ?? '', /re-claims the order when its lease expires/);
  assert.equal(intervention('exp1-payments-latency', 'after'), undefined);
  for (const { r, exp } of derived) {
    assert.deepEqual(exp.windows, all.windows);
    assert.deepEqual(exp.mitigations, r.variant.mitigations);
    assert.equal(exp.load.rate, 100);
  }
});

test('a plan: a rate cap is no longer a field, a missing file_suffix sibling is named with its path', () => {
  const write = (name: string, text: string): string => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const exp = join(ROOT, 'experiments/exp1-payments-latency.yaml');
  const base = `title: t\nexperiments: [${exp}]\nwindows: { warmup_s: 1, baseline_s: 5, fault_s: 5, recovery_s: 5 }\n`;
  assert.throws(() => loadPlan(write('cap.yaml', `${base}variants: [{ name: before, mitigations: {} }]\nrate: { breakpoint: { start_rps: 10, step_rps: 10, step_s: 2 }, max_rps: 100 }\n`)), /rate: Unrecognized key: "max_rps"/);
  const ok = loadPlan(write('nocap.yaml', `${base}variants: [{ name: before, mitigations: {} }]\nrate: { breakpoint: { start_rps: 10, step_rps: 10, step_s: 2 } }\n`));
  assert.equal(ok.rate.breakpoint?.max_rps, undefined);
  assert.throws(
    () => loadPlan(write('suffix.yaml', `${base}variants: [{ name: after, mitigations: {}, file_suffix: .nowhere }]\nrate: { fixed_rps: 10 }\n`)),
    /variants\[0\]\.file_suffix: no file .*exp1-payments-latency\.nowhere\.yaml/,
  );
});

test('--all and --plan conflict: bad input (exit 2) before anything starts; otherwise the plan each names', () => {
  assert.throws(
    () => demoPlanFile({ all: true, plan: 'experiments/gameday-ci.yaml' }, ROOT),
    (err: Error & { code: string; hint?: string }) => {
      assert.equal(err.code, 'INVALID_INPUT');
      assert.equal(exitCodeFor(err), EXIT.INVALID_INPUT);
      assert.match(err.message, /--all and --plan conflict/);
      assert.match(err.hint ?? '', /give one of them/);
      return true;
    },
  );
  assert.equal(demoPlanFile({}, ROOT), join(ROOT, DEMO_PLAN));
  assert.equal(demoPlanFile({ all: true }, ROOT), join(ROOT, DEMO_ALL_PLAN));
  assert.equal(demoPlanFile({ plan: '/x/p.yaml' }, ROOT), '/x/p.yaml');
  assert.equal(demoPlanFile({ all: false, plan: '/x/p.yaml' }, ROOT), '/x/p.yaml');
});
