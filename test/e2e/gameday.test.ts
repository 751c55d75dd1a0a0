/**
 * The CI game day: the short chaos schedule experiments/gameday-ci.yaml on ONE lab, through the same library the
 * `faultline demo` command uses — experiments 1–4 after mitigations, each of which MUST hold (any other verdict
 * fails CI), plus experiment 1 on the naive lab to prove the schedule still finds the cascade it guards against.
 * Also checks the demo's promises: one report (Markdown + HTML) linking every run's own report, the lab stopped
 * and no fault left behind. Skips (saying why) when PostgreSQL or Redis are not installed.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { runDemo } from '../../src/demo/demo.ts';
import type { RunRecord } from '../../src/runner/record.ts';
import { labStatus, stopLab } from '../../src/supervisor/control.ts';
import { missingLabPrerequisites } from '../../src/supervisor/launch.ts';

const PLAN = new URL('../../experiments/gameday-ci.yaml', import.meta.url).pathname;
const missing = missingLabPrerequisites();
const skip = missing.length > 0 ? `lab prerequisites missing: ${missing.join('; ')} (run npm run setup)` : false;
if (skip) process.stdout.write(`# skipping test/e2e/gameday.test.ts — ${skip}\n`);

describe('CI game day', { skip, timeout: 420_000 }, () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'faultline-gameday-'));
  const outDir = mkdtempSync(join(tmpdir(), 'faultline-gameday-out-'));
  chmodSync(stateDir, 0o755); // the postgres user must reach its data dir inside

  after(async () => {
    await stopLab(stateDir).catch(() => undefined);
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });

  test('every after-mitigation verdict is held; the naive lab still cascades', async (t) => {
    const s = await runDemo({ planFile: PLAN, stateDir, outDir, skipSetup: true, log: (l) => process.stdout.write(`# ${l}\n`) });
    const table = s.runs
      .map((r) => `${r.key} ${r.variant}: ${r.verdict.result} (${r.verdict.reasons.join('; ')})${r.retried ? ` — re-run once: the first attempt was ${r.retried.result} (${r.retried.reasons.join('; ')})` : ''}`)
      .join('\n');
    for (const r of s.runs.filter((x) => x.retried)) process.stdout.write(`# re-ran ${r.key} ${r.variant} once: its first attempt was invalid (unmeasurable)\n`);
    process.stdout.write(`# game day in ${s.wall_s} s:\n${table.replace(/^/gm, '#   ')}\n`);
    assert.equal(s.runs.length, 5, table);
    // Still unmeasurable after its re-run: the machine, not the lab, shaped that run. No claim either way about
    // it, and the gate is not judged on numbers the verdict itself disowns (a held verdict is never invalid).
    const unmeasured = s.runs.filter((r) => r.verdict.result === 'invalid' && r.verdict.reasons.some((x) => /unmeasurable|load generator:/.test(x)));
    if (unmeasured.length > 0) {
      t.skip(`unmeasurable twice on this machine: ${unmeasured.map((r) => `${r.key} ${r.variant}`).join(', ')}`);
      return;
    }
    assert.deepEqual(s.gate_failures, [], `after-mitigation verdicts that did not hold:\n${table}`);
    for (const r of s.runs.filter((x) => x.variant === 'after')) {
      assert.ok(r.verdict.fault_availability !== null && r.verdict.fault_availability >= 0.999, `${r.key}: reads ${r.verdict.fault_availability}`);
    }
    // The naive lab under payments latency: the slow dependency turns into writes past their 1 s SLO (or failed
    // writes), as the users measured them (per-request outcomes and latencies, not a histogram bucket), and the
    // verdict is judged on them.
    const naive = s.runs.find((r) => r.key === 'exp1-payments-latency' && r.variant === 'before')!;
    assert.notEqual(naive.verdict.result, 'held', table);
    assert.equal(naive.verdict.figures_source, 'users');
    const { fault_err_rate: errs, fault_p99: p99 } = naive.verdict;
    assert.ok((errs !== null && errs > 0.1) || (p99 !== null && p99 > 1000), `naive writes under the fault: errors ${errs}, p99 ${p99}`);
    for (const r of s.runs) {
      assert.ok(r.verdict.figures.users !== null, `${r.key} ${r.variant}: no users' figures`);
      assert.ok(r.verdict.slis.every((x) => x.source === 'users' && x.other?.source === 'server'), `${r.key} ${r.variant}: both sources side by side`);
    }
    // The demo's promises: one report linking each run's own, the lab down, no fault left on.
    const md = readFileSync(s.report.markdown, 'utf8');
    for (const r of s.runs) assert.ok(md.includes(`${r.dir.slice(outDir.length + 1)}/report.html`), `report.md links ${r.dir}`);
    assert.ok(existsSync(s.report.html) && readFileSync(s.report.html, 'utf8').includes('</table>'));
    assert.equal(labStatus(stateDir).running, false);
    for (const r of s.runs) {
      const run = JSON.parse(readFileSync(join(r.dir, 'run.json'), 'utf8')) as RunRecord;
      for (const f of run.fault_events) assert.equal(typeof f.t_stop, 'number', `${r.key} ${r.variant}: fault ${f.id} never reverted`);
      // The lab declares its breakers as states (lab/faultline.yaml): every run reports when they changed, and
      // with payments failing every charge, the mitigated lab's breaker on payments opens after the first inject.
      assert.ok(run.state_changes !== undefined, `${r.key} ${r.variant}: no state changes recorded`);
      if (r.key === 'exp4-payments-outage' && r.variant === 'after' && r.verdict.result !== 'invalid') {
        const opened = run.state_changes.changes.filter((c) => c.name === 'breaker' && c.of === 'payments' && c.to === 'open');
        process.stdout.write(`# exp4 after, breaker changes: ${run.state_changes.changes.map((c) => `${c.service} ${c.of} ${c.from}→${c.to} @${c.t_s} s`).join('; ') || 'none'}\n`);
        assert.ok(opened.length > 0 && opened.every((c) => c.t_s >= 0), `the payments breaker never opened under the outage: ${JSON.stringify(run.state_changes.changes)}`);
        assert.match(readFileSync(join(r.dir, 'report.md'), 'utf8'), /## State changes[\s\S]*breaker \(payments\) \| closed → open/);
      }
      // The supervisor's view of each instance's processes: the killed replica leaves running after the inject and
      // is running again by the end, and every phase accounts for the machine's CPU by process.
      if (r.key === 'exp2-kill-orders-replica' && r.verdict.result !== 'invalid') {
        const track = run.state_changes.changes.filter((c) => c.name === 'process' && c.of === 'orders-2');
        assert.ok(track.some((c) => c.from === 'running' && c.t_s >= 0) && track.at(-1)?.to === 'running', `orders-2's process track under the kill: ${JSON.stringify(track)}`);
      }
      assert.ok(run.cpu !== undefined, `${r.key} ${r.variant}: no CPU account`);
      const pg = run.cpu.rows.find((x) => x.instance === 'postgres-primary');
      assert.ok(pg && pg.cpu_pct.every((x) => x !== null && x > 0), `${r.key} ${r.variant}: postgres-primary's CPU ${JSON.stringify(pg)}`);
      assert.ok(run.cpu.faultline.some((x) => x.instance.startsWith('faultline runner')), `${r.key} ${r.variant}: the runner's own CPU`);
      run.cpu.host_pct.forEach((host, i) => {
        const parts = [...run.cpu!.rows, ...run.cpu!.faultline].reduce((sum, x) => sum + (x.cpu_pct[i] ?? 0), 0);
        // Scrapes of the parts and of the machine are a few ms apart: the parts may exceed the machine by a little.
        assert.ok(host !== null && parts <= host * 1.1 + 2, `${r.key} ${r.variant} ${run.cpu!.phases[i].name}: processes ${parts} % > machine ${host} %`);
      });
    }
  });
});
