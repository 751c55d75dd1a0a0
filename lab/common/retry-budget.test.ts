import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RetryBudget } from './retry-budget.ts';

/** A clock the test moves by hand. */
function fakeClock(startMs = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = startMs;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('RetryBudget', () => {
  test('with no traffic only the floor is available: minPerSec × ttl', () => {
    const clock = fakeClock();
    const b = new RetryBudget({ percent: 0.2, minPerSec: 3, ttlS: 10, now: clock.now });
    assert.equal(b.balance(), 30);
    let granted = 0;
    while (b.tryWithdraw()) granted++;
    assert.equal(granted, 30);
  });

  test('retries never exceed percent × requests + floor within a ttl window', () => {
    const clock = fakeClock();
    const b = new RetryBudget({ percent: 0.2, minPerSec: 0, ttlS: 10, now: clock.now });
    for (let i = 0; i < 100; i++) b.deposit();
    let granted = 0;
    while (b.tryWithdraw()) granted++;
    assert.equal(granted, 20);
    assert.equal(b.tryWithdraw(), false);
    // Five more requests earn exactly one more retry.
    for (let i = 0; i < 5; i++) b.deposit();
    assert.equal(b.tryWithdraw(), true);
    assert.equal(b.tryWithdraw(), false);
  });

  test('deposits and withdrawals expire after ttl seconds', () => {
    const clock = fakeClock();
    const b = new RetryBudget({ percent: 0.5, minPerSec: 0, ttlS: 2, now: clock.now });
    for (let i = 0; i < 10; i++) b.deposit();
    assert.equal(b.balance(), 5);
    clock.advance(1_000);
    assert.equal(b.balance(), 5, 'still inside the window');
    clock.advance(1_000);
    assert.equal(b.balance(), 0, 'the deposits are 2 s old: expired');
    // A window of exhausted withdrawals also expires, so the budget refills with new traffic.
    for (let i = 0; i < 4; i++) b.deposit();
    assert.ok(b.tryWithdraw());
    assert.ok(b.tryWithdraw());
    assert.equal(b.tryWithdraw(), false);
    clock.advance(2_000);
    for (let i = 0; i < 4; i++) b.deposit();
    assert.equal(b.balance(), 2);
  });

  test('steady 10 % failures under a 20 % budget: every retry is granted', () => {
    const clock = fakeClock();
    const b = new RetryBudget({ percent: 0.2, minPerSec: 0, ttlS: 10, now: clock.now });
    let denied = 0;
    for (let i = 0; i < 10_000; i++) {
      b.deposit();
      if (i % 10 === 9 && !b.tryWithdraw()) denied++;
      clock.advance(10); // 100 requests/s
    }
    assert.equal(denied, 0);
  });

  test('a dead dependency (every call fails) is retried at most ~percent of requests', () => {
    const clock = fakeClock();
    const b = new RetryBudget({ percent: 0.2, minPerSec: 1, ttlS: 10, now: clock.now });
    let retries = 0;
    const requests = 6_000;
    for (let i = 0; i < requests; i++) {
      b.deposit();
      // Up to two retries each, as a 3-attempt policy would ask.
      for (let r = 0; r < 2; r++) if (b.tryWithdraw()) retries++;
      clock.advance(10); // 60 s at 100 requests/s
    }
    // 20 % of the requests, plus the floor of each 10 s window at most.
    assert.ok(retries <= 0.2 * requests + 1 * 60 + 10, `retries ${retries}`);
    assert.ok(retries >= 0.2 * requests - 10, `retries ${retries}`);
  });
});
