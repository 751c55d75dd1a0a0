/**
 * The hypothesis runner end to end, on ONE lab for the whole file: `faultline run` on the committed CI payments
 * latency experiment (a verdict with every number filled, every output file, `faultline report` regenerating
 * them), a stop condition that must trip (aborted, no fault left active), and a broken baseline (invalid, no
 * fault injected). Skips (saying why) when PostgreSQL or Redis are not installed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { missingLabPrerequisites } from '../../src/supervisor/launch.ts';
import { CONTROLLER_PORT_OFFSET } from '../../src/supervisor/topology.ts';
import { chaosToken } from '../../src/controller/token.ts';
import type { Verdict } from '../../src/runner/evaluate.ts';
import { activeFaults as injectedFaults, freeBasePort } from '../helpers/lab.ts';

const BIN = new URL('../../bin/faultline', import.meta.url).pathname;
const CI_EXPERIMENT = new URL('../../experiments/payments-latency-ci.yaml', import.meta.url).pathname;
const MIX = new URL('../../experiments/mixes/lab-default.yaml', import.meta.url).pathname;
const missing = missingLabPrerequisites();
const skip = missing.length > 0 ? `lab prerequisites missing: ${missing.join('; ')} (run npm run setup)` : false;
if (skip) process.stdout.write(`# skipping test/e2e/runner.test.ts — ${skip}\n`);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}
function faultline(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 150_000, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A small experiment file beside the committed mix (absolute path), with the given hypothesis and windows. */
function experimentFile(dir: string, name: string, body: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, body.replace('MIX', MIX));
  return file;
}

describe('faultline run', { skip, timeout: 300_000 }, () => {
  let stateDir = '';
  let work = '';
  let controller = '';
  let apiUrl = '';

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'faultline-runner-'));
    chmodSync(stateDir, 0o755); // the postgres user must reach its data dir inside
    work = mkdtempSync(join(tmpdir(), 'faultline-runs-'));
    const base = await freeBasePort();
    const t0 = Date.now();
    const up = await faultline(['up', '--detach', '--state-dir', stateDir, '--base-port', String(base)]);
    assert.equal(up.code, 0, up.stderr);
    process.stdout.write(`# lab cold start: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    controller = `http://127.0.0.1:${base + CONTROLLER_PORT_OFFSET}`;
    apiUrl = `http://127.0.0.1:${base + 80}`;
  });

  after(async () => {
    if (stateDir) {
      await faultline(['down', '--state-dir', stateDir]);
      rmSync(stateDir, { recursive: true, force: true });
    }
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const activeFaults = (): Promise<unknown[]> => injectedFaults(controller, stateDir);

  test('payments latency: a verdict with every number filled, every output, and report regenerates them', async () => {
    const out = join(work, 'latency');
    const t0 = Date.now();
    const r = await faultline(['run', CI_EXPERIMENT, '--out', out, '--json', '--state-dir', stateDir]);
    process.stdout.write(`# payments latency run: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
    const v = JSON.parse(r.stdout) as Verdict & { dir: string };
    assert.ok(['held', 'degraded', 'failed'].includes(v.result), `${v.result}: ${v.reasons.join('; ')}`);
    assert.equal(r.code, v.result === 'held' ? 0 : 1);
    for (const key of ['baseline_p99', 'fault_p99', 'baseline_err_rate', 'fault_err_rate', 'fault_availability', 'mttr_s', 'time_to_detect_s'] as const) {
      assert.equal(typeof v[key], 'number', `${key} = ${v[key]} (${v.reasons.join('; ')})`);
    }
    // 200 ms on every answer from payments: the write path's p99 rose past its baseline, and the fault was seen.
    assert.ok(v.fault_p99! > v.baseline_p99! + 120, `p99 ${v.baseline_p99} → ${v.fault_p99}`);
    assert.ok(v.time_to_detect_s! <= 5, `detect ${v.time_to_detect_s}`);
    assert.ok(v.mttr_s! <= 15, `mttr ${v.mttr_s}`);
    assert.ok(v.fault_availability! >= 0.99);
    assert.ok(v.blast_radius.endpoints_total > 0 && v.blast_radius.fraction >= 0 && v.blast_radius.fraction <= 1);
    // Offered writes vs charges that reached payments: the lab's system file declares that counter per create_order.
    const charges = v.load.counters.find((c) => c.name === 'payments_charges')!;
    assert.ok(charges.offered!.fault > 0 && v.load.amplification !== null && v.load.amplification > 0.5, JSON.stringify(v.load));
    assert.equal(v.load.amplification_of, 'payments_charges per create_order');
    // Every check of lab/faultline.yaml ran and passed: no order twice, none stranded, every acknowledged order on
    // both databases, and not one charge sent twice (the experiment's gate of 0).
    assert.equal(v.integrity.checked, true, v.integrity.notes.join('; '));
    assert.deepEqual(
      v.integrity.checks.map((c) => [c.name, c.ok]),
      [['every_order_once', true], ['no_order_stranded', true], ['acknowledged_on_primary', true], ['acknowledged_on_replica', true], ['duplicate_charges increase', true]],
      JSON.stringify(v.integrity),
    );
    const acked = v.integrity.checks.find((c) => c.name === 'acknowledged_on_primary')!;
    assert.match(acked.expected, /^≥ [1-9]\d* \(acknowledged create_order writes/, acked.expected);
    for (const f of ['experiment.yaml', 'run.json', 'series.jsonl', 'requests.jsonl', 'fault-events.jsonl', 'verdict.json', 'journal.json', 'report.md', 'report.html', 'junit.xml']) {
      assert.ok(existsSync(join(out, f)) && statSync(join(out, f)).size > 0, `${f} missing or empty`);
    }
    const journal = JSON.parse(readFileSync(join(out, 'journal.json'), 'utf8'));
    assert.equal(journal.status, 'completed');
    assert.equal(journal.steady_states.before.steady_state_met, true);
    assert.equal(journal.run.length, 1);
    assert.equal(journal.rollbacks[0].status, 'succeeded');
    const events = readFileSync(join(out, 'fault-events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).event);
    assert.deepEqual(events.filter((e: string) => e === 'start' || e === 'stop'), ['start', 'stop']);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.equal((html.match(/<svg class="chart"/g) ?? []).length, 3);
    assert.match(html, /class="fault"/);
    assert.doesNotMatch(html, /<script|https?:\/\/(?!127)/);
    rmSync(join(out, 'report.html'));
    const again = await faultline(['report', out]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(join(out, 'report.html'), 'utf8'), html);
    // Judged on the users (every SLI), with the server's figures beside them; requests.jsonl kept for re-judging.
    assert.equal(v.figures_source, 'users');
    assert.ok(v.slis.every((s) => s.source === 'users' && s.other?.source === 'server' && s.evidence.fault.n > 0), JSON.stringify(v.slis.map((s) => [s.name, s.source, s.other?.source])));
    assert.ok(v.figures.users !== null && v.figures.server.fault_p99 !== null);
    assert.ok(existsSync(join(out, 'requests.jsonl')));
    // The same run data judged by a strict hypothesis (writes under the fault no slower than halfway between the
    // two measured p99s) gives another verdict.
    const midway = Math.floor((v.baseline_p99! + v.fault_p99!) / 2);
    const strict = experimentFile(work, 'strict', readFileSync(CI_EXPERIMENT, 'utf8').replace('slo_threshold: 1000', `slo_threshold: ${midway}`).replace(/^title: .*$/m, 'title: strict').replace('mix: mixes/lab-default.yaml', `mix: ${MIX}`));
    const rejudged = await faultline(['report', out, '--hypothesis', strict, '--out', join(work, 'strict'), '--json']);
    const sv = JSON.parse(rejudged.stdout) as Verdict;
    assert.equal(sv.result, 'degraded', sv.reasons.join('; '));
    assert.equal(rejudged.code, 1);
    assert.equal(sv.fault_p99, v.fault_p99, 'not the same data');
    if (v.result === 'held') assert.notEqual(sv.result, v.result);
    assert.deepEqual(await activeFaults(), []);
  });

  test('a stop condition that must trip aborts at once and leaves no fault behind', async () => {
    const file = experimentFile(
      work,
      'trip',
      `title: must trip
hypothesis:
  name: writes under 50 ms (they cannot be, with 400 ms on payments)
  window_s: 2
  sli:
    - { name: write_p99_ms, metric: latency_ms, service: api, method: POST, route: /orders, steady_state: 250, slo_threshold: 1000 }
  stop_condition:
    - { sli: write_p99_ms, above: 200, for_s: 1 }
windows: { warmup_s: 2, baseline_s: 6, fault_s: 30, recovery_s: 4 }
load: { rate: 40, mix: MIX, seed: 11 }
faults: [{ type: latency, target: payments, params: { delay_ms: 400 } }]
recovery: { consecutive_s: 2 }
`,
    );
    const t0 = Date.now();
    const r = await faultline(['run', file, '--out', join(work, 'trip'), '--json', '--state-dir', stateDir]);
    const took = (Date.now() - t0) / 1000;
    process.stdout.write(`# stop-condition run: ${took.toFixed(1)} s\n`);
    assert.equal(r.code, 1, r.stderr);
    const v = JSON.parse(r.stdout) as Verdict;
    assert.equal(v.result, 'aborted', v.reasons.join('; '));
    assert.equal(v.stop.tripped, true);
    assert.ok(v.stop.at_s! < 10, `tripped ${v.stop.at_s} s into a 30 s fault window`);
    assert.ok(v.windows.fault_s < 10, `fault lasted ${v.windows.fault_s} s`);
    assert.ok(took < 40, `the run took ${took} s: the fault window was not cut short`);
    assert.deepEqual(await activeFaults(), []);
    const journal = JSON.parse(readFileSync(join(work, 'trip', 'journal.json'), 'utf8'));
    assert.equal(journal.status, 'interrupted');
  });

  test('a broken baseline is reported invalid, no fault is injected, and --compare calls it a regression', async () => {
    const file = experimentFile(
      work,
      'broken',
      // Same title as the CI experiment, so --compare against its run sees a regression.
      `title: payments latency (CI)
hypothesis:
  name: writes answer in under half a millisecond
  sli:
    - { name: write_p99_ms, metric: latency_ms, service: api, method: POST, route: /orders, steady_state: 0.5 }
windows: { warmup_s: 1, baseline_s: 5, fault_s: 10, recovery_s: 10 }
load: { rate: 30, mix: MIX, seed: 13 }
faults: [{ type: latency, target: payments, params: { delay_ms: 100 } }]
`,
    );
    const before = (await fetch(`${controller}/chaos/faults`, { headers: { authorization: `Bearer ${chaosToken(stateDir)}` } }).then((r) => r.json())) as { faults: unknown[] };
    const r = await faultline(['run', file, '--out', join(work, 'broken'), '--state-dir', stateDir, '--compare', join(work, 'latency')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /INVALID/);
    assert.match(r.stderr, /regressed: payments latency \(CI\): (held|degraded|failed) → invalid/);
    const v = JSON.parse(readFileSync(join(work, 'broken', 'verdict.json'), 'utf8')) as Verdict;
    assert.equal(v.result, 'invalid');
    assert.match(v.reasons[0], /baseline: write_p99_ms/);
    const afterList = (await fetch(`${controller}/chaos/faults`, { headers: { authorization: `Bearer ${chaosToken(stateDir)}` } }).then((r) => r.json())) as { faults: unknown[] };
    assert.equal(afterList.faults.length, before.faults.length, 'a fault was injected despite the broken baseline');
  });

  test('without a lab: exit 3 and FL_LAB_NOT_RUNNING; a bad file: exit 2 with paths', async () => {
    const none = await faultline(['run', CI_EXPERIMENT, '--state-dir', join(work, 'no-lab')]);
    assert.equal(none.code, 3, none.stderr);
    assert.match(none.stderr, /FL_LAB_NOT_RUNNING/);
    const bad = await faultline(['run', experimentFile(work, 'bad', 'title: x\nload: { rate: -1 }\n'), '--state-dir', stateDir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /load\.rate/);
    assert.match(bad.stderr, /hypothesis/);
  });

  test('a Chaos Toolkit experiment, as written for chaostoolkit-toxiproxy, runs on the lab: hypothesis, method, rollback', async () => {
    const file = new URL('../../examples/ctk/lab-payments-latency.json', import.meta.url).pathname;
    const journalPath = join(work, 'ctk-journal.json');
    const r = await faultline(['run', file, '--state-dir', stateDir, '--out', join(work, 'ctk'), '--journal-path', journalPath], { LAB_API_URL: apiUrl });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const j = JSON.parse(readFileSync(journalPath, 'utf8')) as { status: string; deviated: boolean; run: { activity: { name: string }; status: string }[]; rollbacks: { activity: { name: string }; status: string }[] };
    assert.equal(j.status, 'completed');
    assert.equal(j.deviated, false);
    assert.deepEqual(j.run.map((x) => `${x.activity.name}:${x.status}`), ['slow-payments:succeeded', 'api-still-ready:succeeded']);
    assert.deepEqual(j.rollbacks.map((x) => `${x.activity.name}:${x.status}`), ['remove-payments-latency:succeeded']);
    const proxies = (await (await fetch(`${controller}/proxies`)).json()) as Record<string, { toxics: unknown[] }>;
    assert.deepEqual(proxies.payments.toxics, [], 'the rollback removed the toxic');
  });
});
