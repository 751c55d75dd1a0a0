import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeriesStore } from '../metrics/store.ts';
import { stateChanges } from './state-changes.ts';

const BREAKER = { name: 'breaker', series: 'lab_breaker_state', by: 'dependency', values: { '0': 'closed', '1': 'half-open', '2': 'open' } };

test('a breaker that opens under the fault and closes after it: each change at the first scrape that saw it, in seconds from the first inject', () => {
  const store = new SeriesStore();
  // orders' breaker on payments: closed, open from 12 s, half-open at 17 s, closed at 18 s; api's breaker on orders never moves.
  const orders = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 1, 0, 0, 0];
  orders.forEach((v, s) => {
    store.add(1_000_000 + s * 1000, 'lab_breaker_state', { service: 'orders-1', dependency: 'payments' }, v);
    store.add(1_000_000 + s * 1000, 'lab_breaker_state', { service: 'api', dependency: 'orders' }, 0);
  });
  // A series of another name, and one without the `by` label, are not tracks of this spec.
  store.add(1_012_000, 'lab_breaker_state', { service: 'worker' }, 2);
  store.add(1_012_000, 'lab_http_requests_in_flight', { service: 'api' }, 7);
  const { changes, precision_s } = stateChanges(store, [BREAKER], 1_000_000, 1_020_000, 1_010_000, 1000);
  assert.equal(precision_s, 1);
  assert.deepEqual(
    changes.map((c) => [c.t_s, c.service, c.of, c.from, c.to]),
    [
      [2, 'orders-1', 'payments', 'closed', 'open'],
      [7, 'orders-1', 'payments', 'open', 'half-open'],
      [8, 'orders-1', 'payments', 'half-open', 'closed'],
    ],
  );
});

test('the state at the window start is where a track starts, not a change; an unnamed value is shown as itself; outside the window is ignored', () => {
  const store = new SeriesStore();
  [2, 2, 3, 3, 0, 0].forEach((v, s) => store.add(s * 1000, 'lab_breaker_state', { service: 'a', dependency: 'x' }, v));
  const { changes } = stateChanges(store, [BREAKER], 1000, 4000, 0, 500);
  assert.deepEqual(changes.map((c) => [c.t_s, c.from, c.to]), [[2, 'open', '3'], [4, '3', 'closed']]);
  assert.deepEqual(stateChanges(store, [BREAKER], 0, 1000, 0, 500).changes, [], 'no change inside 0–1 s');
  assert.deepEqual(stateChanges(store, [{ ...BREAKER, labels: { dependency: 'y' } }], 0, 6000, 0, 500).changes, [], 'labels select no series');
});
