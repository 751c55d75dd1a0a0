/**
 * The naive lab's own behaviour in the composition (lab/common/mitigations-runtime.ts): the blind client retries,
 * the shared handler pool, and the live switch surviving a restart. The whole-lab versions are in
 * test/e2e/lab-naive.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import client from 'prom-client';
import { DependencyError } from './breaker.ts';
import { Deadline } from './deadline.ts';
import type { Reply } from './http.ts';
import { Resilience } from './mitigations-runtime.ts';
import { MitigationState, parseMitigations } from './mitigations.ts';

const fakeReq = () => ({ headers: {}, resume() {}, socket: { remoteAddress: '127.0.0.1' } }) as unknown as IncomingMessage;
const tick = () => new Promise((r) => setImmediate(r));

function make(block: unknown, handlerConcurrency?: number) {
  const registry = new client.Registry();
  const res = new Resilience(registry, { dependencies: ['payments'], breakers: ['payments'], handlerConcurrency, state: new MitigationState(parseMitigations(block)) });
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const m = await registry.getSingleMetric(name)!.get();
    return m.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
  };
  return { res, value };
}

const NAIVE = { attempts: 3, timeout_ms: 200 };

test('the naive client: any failure, a timeout included, is sent again at once, 3 attempts, each with the short timeout', async () => {
  const { res, value } = make('none');
  const seen: { ms: number | undefined; n: number }[] = [];
  const t0 = performance.now();
  await assert.rejects(
    res.guard('payments', Deadline.none(), async (ms, n) => {
      seen.push({ ms, n });
      throw Object.assign(new Error('timed out'), { name: 'TimeoutError' });
    }, { timeout: 'payments_ms', naive: NAIVE }),
  );
  assert.deepEqual(seen, [{ ms: 200, n: 1 }, { ms: 200, n: 2 }, { ms: 200, n: 3 }]);
  assert.ok(performance.now() - t0 < 50, 'no backoff between naive attempts');
  assert.equal(await value('lab_retries_total', { dependency: 'payments' }), 2);
  // A success on the second attempt stops there.
  let calls = 0;
  assert.equal(await res.guard('payments', Deadline.none(), async () => (++calls < 2 ? Promise.reject(new DependencyError('payments', '503', 503)) : 'ok'), { timeout: 'payments_ms', naive: NAIVE }), 'ok');
  assert.equal(calls, 2);
});

test('with retries and timeouts on, the naive settings do not apply: the budgeted policy decides (a timeout is not retried)', async () => {
  const { res } = make({ preset: 'all', breaker: false });
  const seen: (number | undefined)[] = [];
  await assert.rejects(
    res.guard('payments', Deadline.none(), async (ms) => {
      seen.push(ms);
      throw Object.assign(new Error('timed out'), { name: 'TimeoutError' });
    }, { timeout: 'payments_ms', naive: NAIVE, retryable: (e) => e instanceof DependencyError }),
  );
  assert.deepEqual(seen, [300], 'one attempt, with the mitigation timeout (payments_ms 300)');
});

test('the shared handler pool: reads queue behind writes beyond its slots (naive), not with bulkheads on', async () => {
  const { res, value } = make('none', 2);
  const releases: (() => void)[] = [];
  const slowWrite = res.admit('write', () => new Promise<Reply>((r) => releases.push(() => r({ status: 201, body: {} }))));
  const writes = [slowWrite(fakeReq(), []), slowWrite(fakeReq(), [])];
  await tick();
  let readDone = false;
  const read = Promise.resolve(res.admit('read', async () => ({ status: 200, body: {} }))(fakeReq(), [])).then((r: Reply) => ((readDone = true), r));
  await tick();
  assert.equal(readDone, false, 'the read waits for a slot held by a write');
  assert.equal(await value('lab_handler_slots_waiting'), 1);
  assert.equal(await value('lab_handler_slots_active'), 2);
  releases.shift()!();
  assert.equal(((await read) as Reply).status, 200);
  releases.shift()!();
  await Promise.all(writes);

  res.state.set(parseMitigations({ bulkheads: true }));
  const held: (() => void)[] = [];
  const w = res.admit('write', () => new Promise<Reply>((r) => held.push(() => r({ status: 201, body: {} }))));
  const pending = [w(fakeReq(), []), w(fakeReq(), [])];
  await tick();
  assert.equal(((await res.admit('read', async () => ({ status: 200, body: {} }))(fakeReq(), [])) as Reply).status, 200, 'bulkheads: the read has its own pool');
  for (const h of held) h();
  await Promise.all(pending);
});

test('a live switch survives a restart of the process, unless LAB_MITIGATIONS changed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-mit-'));
  const saved = { ...process.env };
  try {
    Object.assign(process.env, { LAB_STATE_DIR: dir, LAB_SERVICE: 'orders-9', LAB_MITIGATIONS: 'none' });
    const first = new Resilience(new client.Registry(), { dependencies: ['payments'] });
    assert.equal(first.current.reconcile.enabled, false);
    first.state.set(parseMitigations({ preset: 'none', reconcile: true, drain: { grace_ms: 1234 } }));
    const restarted = new Resilience(new client.Registry(), { dependencies: ['payments'] });
    assert.equal(restarted.current.reconcile.enabled, true);
    assert.equal(restarted.current.drain.grace_ms, 1234);
    process.env.LAB_MITIGATIONS = 'all';
    const newUp = new Resilience(new client.Registry(), { dependencies: ['payments'] });
    assert.equal(newUp.current.timeouts.enabled, true, 'a new environment starts from LAB_MITIGATIONS');
  } finally {
    for (const k of ['LAB_STATE_DIR', 'LAB_SERVICE', 'LAB_MITIGATIONS']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
