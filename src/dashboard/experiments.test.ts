import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExperimentBoard } from './experiments.ts';

test('the board shows the running experiment, then its verdict, newest first', () => {
  const board = new ExperimentBoard({ runsDir: '/nonexistent' });
  board.update({ run_id: 'a', title: 'first', phase: 'done', verdict: { result: 'held' } });
  board.update({ run_id: 'b', title: 'second', phase: 'fault', left_s: 10 });
  let snap = board.snapshot();
  assert.equal(snap.running?.run_id, 'b');
  assert.deepEqual(snap.recent.map((e) => e.run_id), ['b', 'a']);
  board.update({ run_id: 'b', title: 'second', phase: 'done', verdict: { result: 'degraded', mttr_s: 4.2 } });
  snap = board.snapshot();
  assert.equal(snap.running, null);
  assert.equal(snap.recent[0].verdict?.result, 'degraded');
});

test('a malformed status is refused with every problem listed', () => {
  const board = new ExperimentBoard({ runsDir: '/nonexistent' });
  assert.throws(
    () => board.update({ run_id: '', title: 't', phase: 'nope', dir: 'relative', extra: 1 }),
    (err: Error & { code?: string }) => err.code === 'INVALID_INPUT' && /run_id/.test(err.message) && /phase/.test(err.message) && /dir/.test(err.message),
  );
});

test('run reports: subdirs of the runs dir and reported dirs; nothing outside them can be named', () => {
  const root = mkdtempSync(join(tmpdir(), 'faultline-board-'));
  try {
    const runs = join(root, 'runs');
    mkdirSync(join(runs, 'r1'), { recursive: true });
    writeFileSync(join(runs, 'r1', 'report.html'), 'x');
    mkdirSync(join(runs, 'no-report'));
    mkdirSync(join(root, 'elsewhere', 'r2'), { recursive: true });
    writeFileSync(join(root, 'elsewhere', 'r2', 'report.html'), 'y');
    writeFileSync(join(root, 'secret'), 's');
    const board = new ExperimentBoard({ runsDir: runs });
    board.update({ run_id: 'x', title: 't', phase: 'done', dir: join(root, 'elsewhere', 'r2') });
    assert.deepEqual(board.runs().map((r) => r.name).sort(), ['r1', 'r2']);
    assert.equal(board.reportPath('r2'), join(root, 'elsewhere', 'r2', 'report.html'));
    for (const bad of ['..', '../secret', 'r1/../..', '', '.hidden']) assert.equal(board.reportPath(bad), undefined, bad);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
