/**
 * Experiment 5's quota sweep driver against the real lab: a demo plan of the committed exp5 files (orders-1 and
 * orders-2 held to 100 % and 10 % of a core, naive; 10 % with every mitigation on) run through the same library
 * `faultline demo --plan experiments/exp5-cpu-sweep.yaml` uses, with short windows at a fixed rate. Checks that
 * the report has a sweep across runs with one point per quota, that each point carries each orders replica's own
 * window figures (CPU as measured, event-loop delay p99, GC pause time) beside the users' write p99, that the 10 %
 * quota held the replicas to it while the 100 % step let them use more, and that no cgroup or fault is left.
 * Skips (saying why) without the lab's prerequisites, root, or a cgroup v2 cpu controller.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runDemo } from '../../src/demo/demo.ts';
import { runSweeps } from '../../src/demo/run-sweep.ts';
import { staticReason as cgroupReason } from '../../src/faults/kinds/cgroup/cgroup.linux.ts';
import { labStatus, stopLab } from '../../src/supervisor/control.ts';
import { missingLabPrerequisites } from '../../src/supervisor/launch.ts';
import { labCgroups } from '../helpers/in-effect.ts';

const EXPERIMENTS = new URL('../../experiments/', import.meta.url).pathname;
const missing = missingLabPrerequisites();
const skip =
  missing.length > 0
    ? `lab prerequisites missing: ${missing.join('; ')} (run npm run setup)`
    : process.getuid?.() !== 0
      ? 'cgroup quotas need root'
      : (cgroupReason('cpu') ?? false);
if (skip) process.stdout.write(`# skipping test/e2e/quota-sweep.test.ts — ${skip}\n`);

// 300 req/s: an orders replica then uses about a tenth of a core on average (the 100 % step shows it), so a 10 %
// quota throttles its bursts; the naive lab holds the rate with room to spare on two cores.
const RATE = 300;

describe('exp5 quota sweep driver', { skip, timeout: 300_000 }, () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'faultline-quota-'));
  const outDir = mkdtempSync(join(tmpdir(), 'faultline-quota-out-'));
  chmodSync(stateDir, 0o755); // the postgres user must reach its data dir inside
  const plan = join(outDir, 'plan.yaml');
  writeFileSync(
    plan,
    [
      'title: exp5 quota sweep (test)',
      'experiments:',
      `  - ${EXPERIMENTS}exp5-cpu-quota-100.yaml`,
      `  - ${EXPERIMENTS}exp5-cpu-quota-10.yaml`,
      'variants:',
      '  - { name: before, mitigations: { preset: none } }',
      `  - { name: after, mitigations: { preset: all }, file_suffix: .mitigated, only: [${EXPERIMENTS}exp5-cpu-quota-10.yaml] }`,
      'windows: { warmup_s: 3, baseline_s: 8, fault_s: 12, recovery_s: 6 }',
      `rate: { fixed_rps: ${RATE} }`,
      // A baseline the machine could not hold is run once more after the lab settles.
      'retry_invalid: true',
      '',
    ].join('\n'),
  );

  after(async () => {
    await stopLab(stateDir).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });

  test('one point per quota, each with the replicas’ own CPU, event-loop delay and GC figures; the 10 % quota bites', async (t) => {
    const s = await runDemo({ planFile: plan, stateDir, outDir: join(outDir, 'report'), skipSetup: true, log: (l) => process.stdout.write(`# ${l}\n`) });
    const table = s.runs.map((r) => `${r.key} ${r.variant}: ${r.verdict.result} (${r.verdict.reasons.join('; ')})`).join('\n');
    assert.equal(s.runs.length, 3, table);
    // A run judged invalid before any fault (its baseline broke the steady state, twice) says this machine cannot
    // carry RATE at all: there is no quota effect to measure, and no claim either way.
    const unheld = s.runs.filter((r) => r.verdict.result === 'invalid' && r.faults_injected === 0);
    if (unheld.length > 0) {
      t.skip(`this machine did not hold ${RATE} req/s before any fault: ${unheld.map((r) => `${r.key} ${r.variant}: ${r.verdict.reasons.join('; ')}`).join(' | ')}`);
      return;
    }
    const sweeps = runSweeps(s.runs);
    assert.equal(sweeps.length, 1, `one sweep across runs: ${JSON.stringify(sweeps)}`);
    const [w] = sweeps;
    assert.deepEqual([w.type, w.param, w.targets], ['cpu_quota', 'pct', ['orders-1', 'orders-2']]);
    const naive = w.lines.find((l) => l.variant === 'before')!;
    assert.deepEqual(naive.points.map((p) => p.x), [10, 100]);
    for (const p of w.lines.flatMap((l) => l.points)) {
      for (const t of w.targets) {
        const f = p.targets[t];
        assert.ok(f && f.cpu_pct !== null && f.eld_p99_ms !== null && f.gc_pause_ms !== null, `${p.key}: ${t}'s window figures: ${JSON.stringify(f)}`);
      }
      assert.ok(p.write_p99_ms !== null, `${p.key}: users' write p99`);
    }
    const [q10, q100] = naive.points;
    process.stdout.write(`# orders CPU at 100 %: ${w.targets.map((t) => q100.targets[t]!.cpu_pct).join(', ')} %; at 10 %: ${w.targets.map((t) => q10.targets[t]!.cpu_pct).join(', ')} %; write p99 ${q100.write_p99_ms} → ${q10.write_p99_ms} ms\n`);
    // The quota holds each replica to a tenth of a core (a scrape's timing makes a window's share a little loose).
    for (const t of w.targets) assert.ok(q10.targets[t]!.cpu_pct! <= 13, `${t} used ${q10.targets[t]!.cpu_pct} % of a core under a 10 % quota`);
    // Throttled to a tenth of a core in each 100-ms period, the replicas queue the bursts they would have served at
    // once: the users' write p99 rises (66 → 525 ms here at 300 req/s, while the average use was only 12 % at 100 %).
    assert.ok(q10.write_p99_ms! > q100.write_p99_ms!, `write p99 at 10 % (${q10.write_p99_ms} ms) is not above 100 % (${q100.write_p99_ms} ms): the quota did not bite`);
    const md = readFileSync(s.report.markdown, 'utf8');
    assert.match(md, /## Sweep across runs: users' write p99 under the fault against cpu_quota pct on orders-1, orders-2/);
    assert.match(readFileSync(s.report.html, 'utf8'), /<svg class="sweep"[^>]*aria-label="users' write p99 under the fault against cpu_quota pct/);
    assert.equal(labStatus(stateDir).running, false);
    assert.deepEqual(labCgroups(stateDir), [], 'no faultline cgroup left behind');
  });
});
