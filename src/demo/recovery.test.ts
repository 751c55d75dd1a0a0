import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recoveryCells, recoveryRanking } from './recovery.ts';
import { fakeRun } from './testing.ts';

const timing = (source: 'users' | 'server') => ({ source, mttr_precision: 'p', detect_precision: 'p' });

test('the recovery ranking: fastest MTTR first, the unrecovered last in plan order, runs without a fault left out', () => {
  const runs = [
    fakeRun('exp9', 'before', { result: 'failed', mttr_s: null, time_to_detect_s: 1.5, timing: timing('users') }, { intervention: 'an operator re-queues the stranded order' }),
    fakeRun('exp1', 'before', { result: 'degraded', mttr_s: 4.2, time_to_detect_s: 0.5, timing: timing('users') }),
    fakeRun('exp2', 'after', { result: 'held', mttr_s: 0.8, time_to_detect_s: null, timing: timing('server') }, { intervention: 'the supervisor restarts the killed process' }),
    fakeRun('noop', 'before', { mttr_s: null }, { faults_injected: 0, reverted: false }),
    fakeRun('exp4', 'before', { result: 'failed', mttr_s: null, timing: timing('users') }),
    fakeRun('exp3', 'after', { result: 'held', mttr_s: 4.2, timing: timing('users') }),
  ];
  const rows = recoveryRanking(runs);
  assert.deepEqual(rows.map((r) => `${r.rank} ${r.key} ${r.variant}`), ['1 exp2 after', '2 exp1 before', '3 exp3 after', '4 exp9 before', '5 exp4 before']);
  const heals = Object.fromEntries(rows.map((r) => [r.key, r.heals]));
  assert.equal(heals.exp2, 'needs: the supervisor restarts the killed process');
  assert.equal(heals.exp1, 'self-heals once the fault ends');
  assert.equal(heals.exp4, 'did not recover in the window');
  assert.equal(heals.exp9, 'did not recover in the window; needs: an operator re-queues the stranded order');
  assert.deepEqual(rows.map((r) => r.recovered_in_window), [true, true, true, false, false]);
  // The table's cells: MTTR with its source, the window it was judged in, time to detect.
  const cells = recoveryCells(rows[0]);
  assert.deepEqual(cells.slice(0, 6), ['1', 'exp2', 'after', '0.80 s (server)', 'yes (20.0 s window)', '—']);
  assert.equal(recoveryCells(rows[3])[4], 'no (20.0 s window)');
  assert.equal(recoveryCells(rows[1])[5], '0.5 s');
});

test('a fault never reverted is ranked last and said to be unmeasured, not unrecovered', () => {
  const rows = recoveryRanking([fakeRun('a', 'before', { mttr_s: null }, { reverted: false }), fakeRun('b', 'before', { mttr_s: 30 })]);
  assert.deepEqual(rows.map((r) => r.key), ['b', 'a']);
  assert.equal(rows[1].heals, 'no revert recorded: recovery not measured');
  assert.equal(rows[1].recovered_in_window, null);
});
