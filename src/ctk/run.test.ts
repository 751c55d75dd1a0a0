// The CTK runner's semantics and journal shape on a real loopback HTTP server and real processes (no faultline
// system needed: http and process providers only).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { validateCtk } from './load.ts';
import { runCtk, type CtkRunOptions } from './run.ts';
import type { Journal } from './types.ts';

const dir = mkdtempSync(join(tmpdir(), 'ctk-run-'));
let server: Server;
let base = '';
let healthy = true;
before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/boom') return void res.writeHead(503).end('down');
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 800);
    if (req.url?.startsWith('/echo')) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ url: req.url }));
    res.writeHead(healthy ? 200 : 500).end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function run(raw: Record<string, unknown>, o: Partial<CtkRunOptions> = {}) {
  const journalPath = join(dir, `j${++n}.json`);
  const exp = validateCtk({ title: 't', description: 'd', ...raw });
  const r = await runCtk(exp, { file: join(dir, 'x.json'), stateDir: join(dir, 'state'), journalPath, ...o });
  const onDisk = JSON.parse(readFileSync(journalPath, 'utf8')) as Journal;
  assert.deepEqual(onDisk.status, r.journal.status);
  return { ...r, onDisk };
}
const hyp = (url: string, tolerance: unknown = 200) => ({ title: 'h', probes: [{ type: 'probe', name: 'health', tolerance, provider: { type: 'http', url, timeout: 2 } }] });
const act = (name: string, url: string, extra: Record<string, unknown> = {}) => ({ type: 'action', name, provider: { type: 'http', url, ...extra } });
const touch = { type: 'action', name: 'rollback', provider: { type: 'process', path: 'true' } };

test('journal shape: top-level keys, run entries with timing, a 5xx is a result, a timeout fails the activity', async () => {
  const { journal, exitCode, onDisk } = await run({
    'steady-state-hypothesis': hyp(`${base}/`),
    method: [act('five-hundred', `${base}/boom`), act('too-slow', `${base}/slow`, { timeout: 0.2 }), act('query', `${base}/echo`, { arguments: { a: 'b c' } })],
    rollbacks: [touch],
  });
  for (const k of ['chaoslib-version', 'platform', 'node', 'experiment', 'start', 'end', 'duration', 'status', 'deviated', 'steady_states', 'run', 'rollbacks']) assert.ok(k in onDisk, k);
  assert.equal(journal.status, 'completed');
  assert.equal(journal.deviated, false);
  assert.equal(exitCode, 0);
  assert.deepEqual(journal.run.map((r) => [r.activity.name, r.status]), [['five-hundred', 'succeeded'], ['too-slow', 'failed'], ['query', 'succeeded']]);
  assert.equal((journal.run[0].output as { status: number }).status, 503);
  assert.match(journal.run[1].exception![0], /ActivityFailed: activity took too long/);
  assert.deepEqual((journal.run[2].output as { body: unknown }).body, { url: '/echo?a=b+c' });
  for (const r of [...journal.run, ...journal.rollbacks]) {
    assert.match(r.start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/);
    assert.ok(typeof r.duration === 'number' && r.duration >= 0 && 'output' in r && r.end >= r.start);
  }
  assert.equal(journal.steady_states.before?.steady_state_met, true);
  assert.equal(journal.steady_states.before?.probes[0].tolerance_met, true);
  assert.equal(journal.steady_states.after?.steady_state_met, true);
  assert.deepEqual(journal.rollbacks.map((r) => r.status), ['succeeded']);
});

test('before-hypothesis not met: method skipped, not deviated, completed, rollbacks still run, exit 0', async () => {
  const { journal, exitCode } = await run({ 'steady-state-hypothesis': hyp(`${base}/boom`), method: [act('never', `${base}/`)], rollbacks: [touch] });
  assert.equal(journal.status, 'completed');
  assert.equal(journal.deviated, false);
  assert.equal(journal.run.length, 0);
  assert.equal(journal.steady_states.after, null);
  assert.equal(journal.rollbacks.length, 1);
  assert.equal(exitCode, 0);
});

test('a probe that errors before: failed; after-hypothesis not met: deviated, exit 1', async () => {
  const errored = await run({ 'steady-state-hypothesis': hyp('http://127.0.0.1:1/'), method: [] });
  assert.equal(errored.journal.status, 'failed');
  assert.equal(errored.exitCode, 1);
  healthy = true;
  const { journal, exitCode } = await run({
    'steady-state-hypothesis': hyp(`${base}/`),
    method: [{ type: 'action', name: 'break', provider: { type: 'process', path: 'true' }, pauses: { after: 0 } }],
    rollbacks: [touch],
  }, {
    // The method "breaks" the server between the two hypothesis runs.
    log: (l) => { if (l === 'action break') healthy = false; },
  });
  healthy = true;
  assert.equal(journal.status, 'completed');
  assert.equal(journal.deviated, true);
  assert.equal(journal.steady_states.after?.steady_state_met, false);
  assert.equal(journal.rollbacks.length, 1);
  assert.equal(exitCode, 1);
});

test('during-method-only with --fail-fast: the first deviation ends the method as failed; never skips rollbacks', async () => {
  healthy = false;
  const { journal, exitCode } = await run(
    { 'steady-state-hypothesis': hyp(`${base}/`), method: [{ type: 'action', name: 'wait', provider: { type: 'process', path: 'sleep', arguments: ['2'] } }, act('after-wait', `${base}/`)], rollbacks: [touch] },
    { hypothesisStrategy: 'during-method-only', hypothesisFrequency_s: 0.2, failFast: true, rollbackStrategy: 'never' },
  );
  healthy = true;
  assert.equal(journal.steady_states.before, null);
  assert.ok(journal.steady_states.during.length >= 1);
  assert.equal(journal.steady_states.during[0].steady_state_met, false);
  assert.equal(journal.status, 'failed');
  assert.ok(!journal.run.some((r) => r.activity.name === 'after-wait'), 'the method stopped');
  assert.equal(journal.rollbacks.length, 0);
  assert.equal(exitCode, 1);
});

test('background activities run alongside; an abort interrupts the method and the rollbacks still run', async () => {
  const ctrl = new AbortController();
  const t0 = Date.now();
  setTimeout(() => ctrl.abort(), 400);
  const { journal, exitCode } = await run(
    { method: [{ type: 'action', name: 'bg', background: true, provider: { type: 'process', path: 'sleep', arguments: ['0.2'] } }, { type: 'action', name: 'long', provider: { type: 'process', path: 'sleep', arguments: ['10'] } }, act('never', `${base}/`)], rollbacks: [touch] },
    { signal: ctrl.signal },
  );
  assert.ok(Date.now() - t0 < 3000);
  assert.equal(journal.status, 'interrupted');
  // In method order, background ones included; the abort ends the foreground activity (and a background one
  // still running: faultline stops those too, see docs/chaos-toolkit.md), and nothing after it runs.
  assert.deepEqual(journal.run.map((r) => r.activity.name), ['bg', 'long']);
  assert.equal(journal.run[1].status, 'failed');
  assert.equal(journal.rollbacks.length, 1);
  assert.equal(exitCode, 1);
});

test('crash files: a dead owner\'s rollbacks are replayed into its journal; a system run waits for its system', async () => {
  const { writePending, pendingPath } = await import('./pending.ts');
  const { replayPendingRollbacks } = await import('./run.ts');
  const { existsSync } = await import('node:fs');
  const { spawnSync } = await import('node:child_process');
  const stateDir = join(dir, 'crash-state');
  const marker = join(dir, 'rolled-back');
  const exp = validateCtk({ title: 'crashed', description: 'd', method: [], rollbacks: [{ type: 'action', name: 'touch', provider: { type: 'process', path: 'touch', arguments: [marker] } }] });
  const journal = { 'chaoslib-version': 'x', platform: 'p', node: 'n', experiment: exp, start: '2026-01-01T00:00:00.000', end: null, duration: null, status: null, deviated: false, steady_states: { before: null, after: null, during: [] }, run: [], rollbacks: [] } as Journal;
  const journalPath = join(dir, 'crashed.json');
  const common = { file: join(dir, 'x.json'), journal_path: journalPath, rollback_strategy: 'default' as const, vars: {}, journal, applied: [] };
  writePending(stateDir, { ...common, run_id: 'live', system: null });
  writePending(stateDir, { ...common, run_id: 'dead', system: null });
  writePending(stateDir, { ...common, run_id: 'needs-system', system: 'shop' });
  // Make two of them look orphaned: the pid of a process that has exited.
  const gone = spawnSync('true').pid!;
  for (const id of ['dead', 'needs-system']) {
    const p = JSON.parse(readFileSync(pendingPath(stateDir, id), 'utf8'));
    writeFileSync(pendingPath(stateDir, id), JSON.stringify({ ...p, pid: gone }));
  }
  const replayed = await replayPendingRollbacks(stateDir);
  assert.deepEqual(replayed.map((r) => r.run_id), ['dead']);
  assert.ok(existsSync(marker), 'the rollback ran');
  const j = JSON.parse(readFileSync(journalPath, 'utf8')) as Journal;
  assert.equal(j.status, 'aborted');
  assert.deepEqual(j.rollbacks.map((r) => `${r.activity.name}:${r.status}`), ['touch:succeeded']);
  assert.equal(existsSync(pendingPath(stateDir, 'dead')), false);
  assert.equal(existsSync(pendingPath(stateDir, 'live')), true, 'a live owner keeps its file');
  assert.equal(existsSync(pendingPath(stateDir, 'needs-system')), true, 'waits for its system');
});
