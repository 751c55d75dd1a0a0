import assert from 'node:assert/strict';
import { test } from 'node:test';
import client from 'prom-client';
import { Deadline } from './deadline.ts';
import { MitigationMetrics } from './mitigations-metrics.ts';
import { MitigationState, parseMitigations } from './mitigations.ts';
import { withRetries } from './retry.ts';
import { RetryBudget } from './retry-budget.ts';

function setup(budgetOverrides: Partial<{ percent: number; minPerSec: number }> = {}) {
  let t = 0;
  const now = () => t;
  const settings = parseMitigations('all').retries;
  const metrics = new MitigationMetrics(new client.Registry(), new MitigationState(parseMitigations('all')), ['dep']);
  const budget = new RetryBudget({ percent: 0.2, minPerSec: 0, ttlS: 10, now, ...budgetOverrides });
  const slept: number[] = [];
  // The fake sleep moves the fake clock: no real waiting.
  const sleep = async (ms: number) => {
    slept.push(ms);
    t += ms;
  };
  return { settings, metrics, budget, slept, sleep, now, deadline: (ms: number) => new Deadline(t + ms, now) };
}

const fail = (n: number) => async () => {
  if (n-- > 0) throw new Error('boom');
  return 'ok';
};

test('retries a retryable failure with backoff, up to max_attempts', async () => {
  const s = setup({ minPerSec: 10 });
  const result = await withRetries({ dependency: 'dep', settings: s.settings, budget: s.budget, deadline: s.deadline(10_000), retryable: () => true, metrics: s.metrics, sleep: s.sleep }, fail(2));
  assert.equal(result, 'ok');
  assert.equal(s.slept.length, 2);
  for (const d of s.slept) assert.ok(d >= s.settings.base_ms && d <= s.settings.max_ms);
  await assert.rejects(
    withRetries({ dependency: 'dep', settings: s.settings, budget: s.budget, deadline: s.deadline(10_000), retryable: () => true, metrics: s.metrics, sleep: s.sleep }, fail(5)),
    /boom/,
  );
  assert.equal(s.slept.length, 4, 'three attempts in all: two more sleeps');
});

test('a non-retryable error, an empty budget, or no deadline left: no retry', async () => {
  const s = setup();
  const opts = { dependency: 'dep', settings: s.settings, budget: s.budget, metrics: s.metrics, sleep: s.sleep };
  await assert.rejects(withRetries({ ...opts, deadline: s.deadline(10_000), retryable: () => false }, fail(1)));
  assert.equal(s.slept.length, 0);
  // Budget: 2 requests deposited × 20 % = 0.4 token, no floor → refused.
  await assert.rejects(withRetries({ ...opts, deadline: s.deadline(10_000), retryable: () => true }, fail(1)));
  assert.equal(s.slept.length, 0);
  assert.match(await s.metrics.budgetExhausted.get().then((m) => JSON.stringify(m.values)), /"value":1/);
  // Deadline: 5 ms left cannot hold a backoff plus an attempt.
  const rich = setup({ minPerSec: 100 });
  await assert.rejects(
    withRetries({ dependency: 'dep', settings: rich.settings, budget: rich.budget, metrics: rich.metrics, sleep: rich.sleep, deadline: rich.deadline(5), retryable: () => true }, fail(1)),
  );
  assert.equal(rich.slept.length, 0);
});
