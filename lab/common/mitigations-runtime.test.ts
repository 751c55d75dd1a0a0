import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import client from 'prom-client';
import { BrokenCircuitError, DependencyError } from './breaker.ts';
import { Deadline } from './deadline.ts';
import type { Reply } from './http.ts';
import { Resilience } from './mitigations-runtime.ts';
import { MitigationState, parseMitigations } from './mitigations.ts';

const fakeReq = () => ({ headers: {}, resume() {}, socket: { remoteAddress: '127.0.0.1' } }) as unknown as IncomingMessage;

function make(block: unknown) {
  const registry = new client.Registry();
  const res = new Resilience(registry, { dependencies: ['payments'], breakers: ['payments'], state: new MitigationState(parseMitigations(block)) });
  const value = async (name: string, labels: Record<string, string>) => {
    const m = await registry.getSingleMetric(name)!.get();
    return m.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
  };
  return { res, value };
}

test('naive: admit and guard are straight calls (no shedding, no breaker, no retry)', async () => {
  const { res } = make('none');
  let calls = 0;
  await assert.rejects(res.guard('payments', Deadline.none(), async () => (calls++, Promise.reject(new DependencyError('payments', 'x'))), { timeout: 'payments_ms', breaker: true, retryable: () => true }));
  assert.equal(calls, 1);
  const reply = await res.admit('write', async () => ({ status: 201, body: {} }))(fakeReq(), []);
  assert.equal((reply as Reply).status, 201);
});

test('bulkhead full and limiter at its limit: 503 with Retry-After, counted per pool', async () => {
  const { res, value } = make({ bulkheads: { write_limit: 1, queue: 0 } });
  let release!: () => void;
  const slow = res.admit('write', () => new Promise<Reply>((r) => (release = () => r({ status: 201, body: {} }))));
  const first = slow(fakeReq(), []);
  await new Promise((r) => setImmediate(r));
  const refused = (await slow(fakeReq(), [])) as Reply;
  assert.equal(refused.status, 503);
  assert.equal(refused.headers?.['retry-after'], '1');
  assert.equal((await res.admit('read', async () => ({ status: 200, body: {} }))(fakeReq(), []) as Reply).status, 200, 'reads have their own pool');
  release();
  assert.equal(((await first) as Reply).status, 201);
  assert.equal(await value('lab_bulkhead_rejections_total', { pool: 'write' }), 1);

  const shed = make({ limiter: { algorithm: 'aimd', initial: 1, min: 1, max: 1 } });
  let done!: () => void;
  const held = shed.res.admit('read', () => new Promise<Reply>((r) => (done = () => r({ status: 200, body: {} }))))(fakeReq(), []);
  const second = (await shed.res.admit('read', async () => ({ status: 200, body: {} }))(fakeReq(), [])) as Reply;
  assert.equal(second.status, 503);
  assert.equal((second.body as { code: string }).code, 'SHED');
  done();
  await held;
  assert.equal(await shed.value('lab_shed_requests_total', { pool: 'read' }), 1);
});

test('breaker: opens after failures, then refuses without calling; state exported as 2', async () => {
  const { res, value } = make({ breaker: { window: 4, min_calls: 4, failure_ratio: 0.5, half_open_after_ms: 60_000 } });
  let calls = 0;
  const failing = () => res.guard('payments', Deadline.none(), async () => (calls++, Promise.reject(new DependencyError('payments', '503', 503))), { timeout: 'payments_ms', breaker: true });
  for (let i = 0; i < 4; i++) await assert.rejects(failing(), DependencyError);
  assert.equal(await value('lab_breaker_state', { dependency: 'payments' }), 2);
  assert.ok(res.breakerOpen('payments'));
  await assert.rejects(failing(), BrokenCircuitError);
  assert.equal(calls, 4, 'the open breaker did not call');
  assert.equal(await value('lab_breaker_rejections_total', { dependency: 'payments' }), 1);
  // A settings change rebuilds it closed.
  res.state.set(parseMitigations({ breaker: { window: 5 } }));
  assert.equal(res.breakerOpen('payments'), false);
});

test('retries under guard: a retryable failure is retried within the budget floor, a breaker refusal never', async () => {
  const { res, value } = make({ retries: { base_ms: 0, max_ms: 1, min_per_s: 0.1, ttl_s: 10 } });
  let calls = 0;
  const out = await res.guard('payments', Deadline.none(), async () => {
    if (++calls < 2) throw new DependencyError('payments', '503', 503);
    return 'ok';
  }, { timeout: 'payments_ms', retryable: (e) => e instanceof DependencyError });
  assert.equal(out, 'ok');
  assert.equal(await value('lab_retries_total', { dependency: 'payments' }), 1);
  // The floor (0.1 per second × 10 s = 1) is spent: the next failure is not retried.
  calls = 0;
  await assert.rejects(res.guard('payments', Deadline.none(), async () => (calls++, Promise.reject(new DependencyError('payments', '503', 503))), { timeout: 'payments_ms', retryable: () => true }));
  assert.equal(calls, 1);
  assert.equal(await value('lab_retry_budget_exhausted_total', { dependency: 'payments' }), 1);
});
