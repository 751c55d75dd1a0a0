/**
 * The lab's mitigations end to end, on ONE lab for the whole file, each scenario run before (naive) and after
 * (switched on live through POST /__lab/mitigations on every service, as the experiment runner does):
 * - payments at 800 ms: the naive lab lets slow writes (three 200 ms attempts each, then a 502) queue reads
 *   behind them in its one shared handler pool; with bulkheads, reads stay fast;
 * - payments hanging, breaker on: POST /orders answers fast with payment_pending, and the worker settles every
 *   such order once payments recovers (none lost, none charged twice);
 * - 10 % of payments calls failing: retries stay within the budget (and a heavier failure rate exhausts it);
 * - a token expired by a skewed clock: refused naive, accepted within the leeway.
 * Skips (saying why) when PostgreSQL or Redis are not installed.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { missingLabPrerequisites } from '../../src/supervisor/launch.ts';
import { labSecret, statePaths } from '../../src/supervisor/state-dir.ts';
import { signToken } from '../../src/supervisor/token.ts';
import { LAB_SERVICES } from '../../src/supervisor/topology.ts';
import { freeBasePort } from '../helpers/lab.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/faultline', import.meta.url).pathname;
const missing = missingLabPrerequisites();
const skip = missing.length > 0 ? `lab prerequisites missing: ${missing.join('; ')} (run npm run setup)` : false;
if (skip) process.stdout.write(`# skipping test/e2e/mitigations.test.ts — ${skip}\n`);
const hasPromtool = (() => {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The node services that carry the switch. */
const SWITCHED = ['api', 'orders-1', 'orders-2', 'worker', 'worker-2'];

function faultline(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 90_000 });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

describe('lab mitigations', { skip, timeout: 240_000 }, () => {
  let stateDir = '';
  let base = 0;
  let api = '';
  let token = '';
  let db: pg.Client | undefined;
  const port = (name: string, which: 'port' | 'proxy'): number => base + LAB_SERVICES.find((r) => r.name === name)![which]!;
  const json = { 'content-type': 'application/json' };
  const payments = (): string => `http://127.0.0.1:${port('payments', 'proxy')}`;

  async function post(body: unknown): Promise<{ status: number; body: any; headers: Headers; ms: number }> {
    const t0 = performance.now();
    const res = await fetch(`${api}/orders`, { method: 'POST', headers: { ...json, authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json(), headers: res.headers, ms: performance.now() - t0 };
  }
  async function timedGet(path: string): Promise<{ status: number; ms: number }> {
    const t0 = performance.now();
    const res = await fetch(`${api}${path}`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t0 };
  }
  /** Sets the same mitigations block on every switched service (what the experiment runner does). */
  async function setMitigations(block: 'none' | 'all' | Record<string, unknown>): Promise<void> {
    const body = JSON.stringify(typeof block === 'string' ? { preset: block } : block);
    for (const svc of SWITCHED) {
      const res = await fetch(`http://127.0.0.1:${port(svc, 'port')}/__lab/mitigations`, { method: 'POST', headers: json, body });
      assert.equal(res.status, 200, `${svc}: ${await res.text()}`);
    }
  }
  async function paymentsControl(body: unknown | null): Promise<void> {
    const res = await fetch(`${payments()}/control`, body === null ? { method: 'DELETE' } : { method: 'POST', headers: json, body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.text());
  }
  /** Sum over orders-1 and orders-2 of one sample (name with labels), e.g. `lab_retries_total{dependency="payments"}`. */
  async function ordersSum(sample: string): Promise<number> {
    let total = 0;
    for (const svc of ['orders-1', 'orders-2']) total += await metricValue(svc, sample);
    return total;
  }
  async function metricValue(svc: string, sample: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${port(svc, 'port')}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
    return line === undefined ? NaN : Number(line.slice(sample.length + 1));
  }
  /** Waits (≤ 60 s) until the worker has settled every queued order, so a test starts from an empty queue. */
  async function queueDrained(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { rows } = await db!.query<{ n: number }>('SELECT count(*)::int AS n FROM payment_queue');
      if (rows[0].n === 0) return;
      assert.ok(Date.now() < deadline, `${rows[0].n} orders still queued after 60 s`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  async function duplicateCalls(): Promise<number> {
    return ((await (await fetch(`${payments()}/stats`)).json()) as { duplicate_calls: number }).duplicate_calls;
  }

  /**
   * `writes` POSTs all at once, and while they are in flight, `reads` GETs of seeded orders.
   * Returns the read latencies and the write statuses.
   */
  async function readsDuringWriteBurst(tag: string, writes: number, reads: number): Promise<{ readMs: number[]; writeStatuses: number[] }> {
    const burst = Array.from({ length: writes }, (_, i) => post({ customer_id: 5, amount_cents: 300, idempotency_key: `${tag}-${i}` }));
    await new Promise((r) => setTimeout(r, 150)); // let the writes take their sockets and slots
    // In parallel, as real readers arrive: each one meets the burst at its height.
    const answers = await Promise.all(Array.from({ length: reads }, (_, i) => timedGet(`/orders/${1 + i}`)));
    for (const r of answers) assert.equal(r.status, 200);
    const readMs = answers.map((r) => r.ms);
    const writeStatuses = (await Promise.all(burst)).map((w) => w.status);
    return { readMs, writeStatuses };
  }

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'faultline-mit-'));
    chmodSync(stateDir, 0o755);
    base = await freeBasePort();
    const t0 = Date.now();
    // Started with every mitigation on (exercising --mitigations → env); each test sets what it needs live.
    await faultline(['up', '--detach', '--state-dir', stateDir, '--base-port', String(base), '--mitigations', 'all'], {
      LAB_QUEUE_GRACE_MS: '1000',
      LAB_WORKER_RETRY_MS: '500',
    });
    process.stdout.write(`# lab cold start: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    api = `http://127.0.0.1:${port('api', 'proxy')}`;
    token = (await faultline(['token', '--state-dir', stateDir])).stdout.trim();
    db = new pg.Client({ host: '127.0.0.1', port: port('postgres-primary', 'port'), user: 'lab', database: 'lab' });
    db.on('error', () => {});
    await db.connect();
  });

  after(async () => {
    await db?.end().catch(() => {});
    if (stateDir) {
      await faultline(['down', '--state-dir', stateDir]).catch(() => {});
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('--mitigations reaches every service; the live switch validates; metrics pass promtool', async () => {
    for (const svc of SWITCHED) {
      const res = await fetch(`http://127.0.0.1:${port(svc, 'port')}/__lab/mitigations`);
      const m = (await res.json()) as Record<string, { enabled: boolean }>;
      assert.equal(res.status, 200);
      for (const [k, v] of Object.entries(m)) assert.equal(v.enabled, true, `${svc}: ${k}`);
    }
    const bad = await fetch(`http://127.0.0.1:${port('orders-1', 'port')}/__lab/mitigations`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ preset: 'most', retries: { max_attempts: 0 } }),
    });
    const body = (await bad.json()) as { code: string; issues: { path: string }[] };
    assert.equal(bad.status, 400);
    assert.equal(body.code, 'INVALID_INPUT');
    assert.deepEqual(body.issues.map((i) => i.path).sort(), ['preset', 'retries.max_attempts']);
    const orders = await (await fetch(`http://127.0.0.1:${port('orders-1', 'port')}/metrics`)).text();
    for (const name of ['lab_breaker_state{dependency="payments"} 0', 'lab_retries_total', 'lab_retry_budget_exhausted_total', 'lab_shed_requests_total', 'lab_bulkhead_rejections_total', 'lab_fallbacks_total', 'lab_mitigation_enabled']) {
      assert.ok(orders.includes(name), `orders-1 lacks ${name}`);
    }
    if (!hasPromtool) return;
    for (const svc of SWITCHED) {
      const text = await (await fetch(`http://127.0.0.1:${port(svc, 'port')}/metrics`)).text();
      const check = await new Promise<{ code: number; out: string }>((resolve) => {
        const child = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }));
        child.stdin!.end(text);
      });
      assert.equal(check.code, 0, `${svc}: ${check.out}`);
    }
  });

  test('clock skew: a token that expired 2 minutes ago (a skewed clock) is refused naive, accepted with the leeway', async () => {
    const now = Math.floor(Date.now() / 1000);
    const skewed = signToken({ sub: 'skew', iat: now - 3_720, nbf: now - 3_720, exp: now - 120 }, labSecret(statePaths(stateDir), false)!);
    const read = async () => (await fetch(`${api}/orders/1`, { headers: { authorization: `Bearer ${skewed}` } })).status;
    await setMitigations('none');
    assert.equal(await read(), 401);
    await setMitigations({ preset: 'none', clock_skew: true });
    assert.equal(await read(), 200);
    await setMitigations({ preset: 'none', clock_skew: { leeway_s: 60 } });
    assert.equal(await read(), 401, 'a leeway shorter than the skew does not help');
  });

  test('payments at 800 ms: naive reads queue behind writes; with bulkheads reads stay fast', async () => {
    await paymentsControl({ latency_ms: 800, jitter_ms: 0 });
    try {
      await setMitigations('none');
      const naive = await readsDuringWriteBurst(`bh-naive-${Date.now()}`, 150, 8);
      await setMitigations({ preset: 'none', bulkheads: true });
      const held = await readsDuringWriteBurst(`bh-held-${Date.now()}`, 150, 8);
      process.stdout.write(
        `# reads during a 150-write burst, payments 800 ms: naive median ${median(naive.readMs).toFixed(0)} ms (max ${Math.max(...naive.readMs).toFixed(0)}), ` +
          `bulkheads median ${median(held.readMs).toFixed(0)} ms (max ${Math.max(...held.readMs).toFixed(0)})\n`,
      );
      // Before: each orders process has one handler pool of 5 for reads and writes; the writes fill it, each for
      // three 200 ms attempts at payments (the naive client's timeout and retries), so a read waits its turn.
      assert.ok(median(naive.readMs) > 700, `naive reads were not slowed: ${naive.readMs.map(Math.round).join(',')}`);
      // Every naive write timed out three times and was refused (the order stays payment_pending for the worker).
      assert.deepEqual([...new Set(naive.writeStatuses)], [502], `naive write statuses: ${[...new Set(naive.writeStatuses)].join(',')}`);
      // After: reads have their own pool and slots; excess writes are refused early instead.
      // (Generous bound: on a loaded 2-core machine the burst's CPU work alone can add ~100 ms.)
      assert.ok(Math.max(...held.readMs) < 400, `reads with bulkheads: ${held.readMs.map(Math.round).join(',')}`);
      assert.ok(median(held.readMs) * 3 < median(naive.readMs), 'bulkheads made no clear difference');
      assert.ok(held.writeStatuses.filter((s) => s === 503).length > 0, 'the write bulkhead refused the excess');
      assert.ok((await metricValue('api', 'lab_bulkhead_rejections_total{pool="write"}')) > 0);
    } finally {
      await paymentsControl(null);
      // The refused naive writes are settled by the worker; let it finish so later tests count only their own.
      await queueDrained();
    }
  });

  test('payments hanging, breaker on: POST /orders answers fast with payment_pending; the worker settles all, once', async () => {
    const dupBefore = await duplicateCalls();
    const tag = `hang-${Date.now()}`;
    const answers: Awaited<ReturnType<typeof post>>[] = [];
    await paymentsControl({ mode: 'hang' });
    try {
      // Before: the naive payments client gives each of its three immediate attempts 200 ms, then refuses the
      // order with a 502 (it stays payment_pending and is settled later).
      await setMitigations('none');
      const naive = await post({ customer_id: 11, amount_cents: 499, idempotency_key: `${tag}-naive` });
      process.stdout.write(`# naive POST /orders with payments hanging: ${naive.status} after ${naive.ms.toFixed(0)} ms\n`);
      assert.equal(naive.status, 502, JSON.stringify(naive.body));
      assert.equal(naive.body.code, 'PAYMENT_FAILED');
      assert.ok(naive.ms >= 3 * 200, `three 200 ms attempts took only ${naive.ms.toFixed(0)} ms`);
      // After: everything on.
      await setMitigations('all');
      for (let i = 0; i < 24; i++) answers.push(await post({ customer_id: 11, amount_cents: 500 + i, idempotency_key: `${tag}-${i}` }));
      const open = [];
      for (const svc of ['orders-1', 'orders-2']) open.push(await metricValue(svc, 'lab_breaker_state{dependency="payments"}'));
      process.stdout.write(`# POST /orders with payments hanging: max ${Math.max(...answers.map((a) => a.ms)).toFixed(0)} ms, median ${median(answers.map((a) => a.ms)).toFixed(0)} ms; breaker states ${open.join(',')}\n`);
      for (const a of answers) {
        assert.equal(a.status, 202, JSON.stringify(a.body));
        assert.equal(a.body.status, 'payment_pending');
        assert.ok(a.ms < 700, `a POST took ${a.ms.toFixed(0)} ms`);
      }
      assert.ok(open.some((s) => s === 2), `no breaker opened: ${open.join(',')}`);
      assert.ok(answers.some((a) => a.headers.get('x-lab-degraded') === 'breaker_open'), 'no answer came from an open breaker');
      assert.ok((await ordersSum('lab_fallbacks_total{kind="payment_pending"}')) >= answers.length);
    } finally {
      await paymentsControl(null);
    }
    // Recovery: the worker's half-open probe finds payments back and settles every pending order.
    const ids = answers.map((a) => a.body.id as number);
    const deadline = Date.now() + 30_000;
    let rows: { id: number; status: string }[] = [];
    while (Date.now() < deadline) {
      rows = (await db!.query<{ id: number; status: string }>('SELECT id, status FROM orders WHERE idempotency_key LIKE $1', [`${tag}-%`])).rows;
      if (rows.length === ids.length + 1 && rows.every((r) => r.status === 'paid')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(rows.length, ids.length + 1, 'an order was lost (the naive one included)');
    assert.deepEqual(rows.filter((r) => r.status !== 'paid'), [], 'orders left unsettled');
    const allIds = rows.map((r) => r.id);
    const queued = await db!.query('SELECT order_id FROM payment_queue WHERE order_id = ANY($1)', [allIds]);
    assert.equal(queued.rowCount, 0);
    for (const id of allIds) {
      const charge = (await (await fetch(`${payments()}/charges/order-${id}`)).json()) as { calls: number };
      assert.equal(charge.calls, 1, `order ${id} charged ${charge.calls} times`);
    }
    assert.equal(await duplicateCalls(), dupBefore, 'a duplicate charge was attempted');
  });

  test('10 % of payments calls failing: retries stay within the budget; a 60 % failure rate exhausts it', async () => {
    const sample = async () => ({
      requests: await ordersSum('lab_retry_requests_total{dependency="payments"}'),
      retries: await ordersSum('lab_retries_total{dependency="payments"}'),
      exhausted: await ordersSum('lab_retry_budget_exhausted_total{dependency="payments"}'),
    });
    const burst = async (tag: string, n: number, concurrency: number): Promise<number[]> => {
      const statuses: number[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < n) {
            const i = next++;
            statuses.push((await post({ customer_id: 13, amount_cents: 100 + i, idempotency_key: `${tag}-${i}` })).status);
          }
        }),
      );
      return statuses;
    };
    await queueDrained();
    const dupBefore = await duplicateCalls();
    // Fresh budgets and breakers (a settings change rebuilds them; passing through `none` makes sure the breaker
    // settings change too, so a breaker the hang test left open does not swallow every charge), everything on.
    await setMitigations({ preset: 'none' });
    await setMitigations({ preset: 'all', retries: { min_per_s: 1 } });
    await paymentsControl({ error_rate: 0.1 });
    try {
      const s0 = await sample();
      const statuses = await burst(`retry10-${Date.now()}`, 200, 8);
      const s1 = await sample();
      const requests = s1.requests - s0.requests;
      const retries = s1.retries - s0.retries;
      // Per process: 20 % of its requests + a floor of 1/s × 10 s; two orders processes.
      const allowed = 0.2 * requests + 2 * 1 * 10;
      process.stdout.write(`# 10 % failures: ${requests} charges, ${retries} retries (budget ${allowed.toFixed(0)})\n`);
      assert.ok(requests >= 200, `charges counted: ${requests}`);
      assert.ok(retries > 0, 'no retry happened at all');
      assert.ok(retries <= allowed, `${retries} retries over the budget ${allowed}`);
      assert.ok(statuses.every((s) => s === 201 || s === 202), `statuses: ${[...new Set(statuses)].join(',')}`);

      // Heavier failures without a breaker to hide them: the budget, not max_attempts, caps the retries.
      await setMitigations({ preset: 'none', retries: { min_per_s: 0.5 } });
      await paymentsControl({ error_rate: 0.6 });
      const s2 = await sample();
      await burst(`retry60-${Date.now()}`, 100, 8);
      const s3 = await sample();
      const heavyRequests = s3.requests - s2.requests;
      const heavyRetries = s3.retries - s2.retries;
      const heavyAllowed = 0.2 * heavyRequests + 2 * 0.5 * 10;
      process.stdout.write(`# 60 % failures: ${heavyRequests} charges, ${heavyRetries} retries (budget ${heavyAllowed.toFixed(0)}), ${s3.exhausted - s2.exhausted} refused by the budget\n`);
      assert.ok(heavyRetries <= heavyAllowed, `${heavyRetries} retries over the budget ${heavyAllowed}`);
      assert.ok(s3.exhausted - s2.exhausted > 0, 'the budget never ran out');
    } finally {
      await paymentsControl(null);
      await setMitigations('none');
    }
    // Injected errors happen before payments records a charge, so retries never double-charge.
    assert.equal(await duplicateCalls(), dupBefore);
  });
});
