/**
 * The naive lab is naive the way real services are, and the fixes hold — end to end, on ONE real lab (two
 * orders, two workers, durable PostgreSQL) for the whole file:
 * - bounded pools: a burst of slow writes above orders' shared handler pool queues a read behind it (naive);
 *   with bulkheads the read does not wait;
 * - naive retries amplify: each slow write reaches the payments stub 3 times (counted at the stub), once with
 *   the mitigations (timeouts are not retried);
 * - a worker SIGKILLed mid-settlement: naive, the re-delivery is refused and the order is stranded in
 *   processing; with reconcile the other worker re-claims it after the lease and settles it exactly once;
 * - disk full on the primary: writes under load until the primary refuses, space back, and every acknowledged
 *   order is in the table;
 * - SIGTERM mid-request: naive, the requests in flight get no answer; with drain they are answered (and the
 *   restarted process keeps the live switch).
 * Payments' slowness comes from the stub's own /control (latency_ms), not a proxy fault, so each step is exact.
 * Skips (saying why) when the lab's prerequisites (PostgreSQL, Redis) are not installed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { missingLabPrerequisites } from '../../src/supervisor/launch.ts';
import { LAB_SERVICES } from '../../src/supervisor/topology.ts';
import { freeBasePort } from '../helpers/lab.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/faultline', import.meta.url).pathname;
const missing = missingLabPrerequisites();
const skip = missing.length > 0 ? `lab prerequisites missing: ${missing.join('; ')} (run npm run setup)` : false;
if (skip) process.stdout.write(`# skipping test/e2e/lab-naive.test.ts — ${skip}\n`);

/** lab/faultline.yaml's controller port offset ("+474"). */
const CONTROLLER_PORT = 474;
const SWITCHED = ['api', 'orders-1', 'orders-2', 'worker', 'worker-2'];
const json = { 'content-type': 'application/json' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function faultline(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [BIN, ...args], { timeout: 90_000 });
}

describe('the naive lab, and its fixes', { skip, timeout: 180_000 }, () => {
  let stateDir = '';
  let base = 0;
  let token = '';
  let db: pg.Client | undefined;
  const port = (name: string, which: 'port' | 'proxy' = 'port'): number => base + LAB_SERVICES.find((r) => r.name === name)![which]!;
  const url = (name: string, which: 'port' | 'proxy' = 'port'): string => `http://127.0.0.1:${port(name, which)}`;

  async function connect(): Promise<pg.Client> {
    const c = new pg.Client({ host: '127.0.0.1', port: port('postgres-primary'), user: 'lab', database: 'lab' });
    c.on('error', () => {});
    await c.connect();
    return c;
  }
  async function setMitigations(block: Record<string, unknown>): Promise<void> {
    for (const svc of SWITCHED) {
      const res = await fetch(`${url(svc)}/__lab/mitigations`, { method: 'POST', headers: json, body: JSON.stringify(block) });
      assert.equal(res.status, 200, `${svc}: ${await res.text()}`);
    }
  }
  async function paymentsControl(body: unknown | null): Promise<void> {
    const res = await fetch(`${url('payments')}/control`, body === null ? { method: 'DELETE' } : { method: 'POST', headers: json, body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.text());
  }
  /** One sample of a service's metrics; NaN while the service does not answer (killed, restarting). */
  async function metric(svc: string, sample: string): Promise<number> {
    let text: string;
    try {
      text = await (await fetch(`${url(svc)}/metrics`)).text();
    } catch {
      return NaN;
    }
    const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
    return line === undefined ? 0 : Number(line.slice(sample.length + 1));
  }
  /** POST /charge requests the payments stub answered, whatever their status. */
  async function charges(): Promise<number> {
    const text = await (await fetch(`${url('payments')}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('lab_http_request_duration_seconds_count{') && l.includes('route="/charge"') && l.includes('method="POST"'))
      .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  }
  async function post(target: string, key: string, timeoutMs = 10_000): Promise<{ status: number; body: { id?: number } }> {
    const res = await fetch(`${target}/orders`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${token}` },
      body: JSON.stringify({ customer_id: 9, amount_cents: 900, idempotency_key: key }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, body: (await res.json()) as { id?: number } };
  }
  async function timedGet(target: string, id: number): Promise<{ status: number; ms: number }> {
    const t0 = performance.now();
    const res = await fetch(`${target}/orders/${id}`, { headers: { authorization: `Bearer ${token}`, 'cache-control': 'no-cache' } });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t0 };
  }

  /** The controller's fault API (loopback callers need no token). */
  async function chaos(path: string, body?: unknown): Promise<{ id: string }> {
    const res = await fetch(`http://127.0.0.1:${base + CONTROLLER_PORT}/chaos/${path}`, { method: 'POST', headers: json, body: JSON.stringify(body ?? {}) });
    const text = await res.text();
    assert.ok(res.status === 200 || res.status === 201, `POST /chaos/${path}: ${res.status} ${text}`);
    return JSON.parse(text) as { id: string };
  }

  before(async () => {
    // On tmpfs when there is one: PostgreSQL is durable (fsync=on), and fsyncs to RAM keep the cold start short.
    stateDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'faultline-naive-'));
    chmodSync(stateDir, 0o755);
    base = await freeBasePort();
    const t0 = Date.now();
    await faultline(['up', '--detach', '--state-dir', stateDir, '--base-port', String(base)]);
    process.stdout.write(`# lab cold start (durable PostgreSQL): ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    token = (await faultline(['token', '--state-dir', stateDir])).stdout.trim();
    db = await connect();
  });

  after(async () => {
    await db?.end().catch(() => {});
    if (stateDir) {
      await faultline(['down', '--state-dir', stateDir]).catch(() => {});
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('bounded pools: writes above the shared handler pool queue a read (naive); bulkheads keep it out; naive retries triple payments calls', async () => {
    // Every charge takes 1 s at the stub: the naive client's 200 ms timeout cuts each attempt, 3 attempts a write.
    await paymentsControl({ latency_ms: 1_000, jitter_ms: 0 });
    const orders = url('orders-1');
    const burst = async (tag: string): Promise<{ readMs: number; calls: number; waited: number }> => {
      const before = await charges();
      let waited = 0;
      const writes = Array.from({ length: 12 }, (_, i) => post(orders, `${tag}-${i}`).catch(() => ({ status: 0, body: {} })));
      await sleep(100);
      waited = await metric('orders-1', 'lab_handler_slots_waiting');
      const read = await timedGet(orders, 42);
      assert.equal(read.status, 200);
      await Promise.all(writes);
      await sleep(1_200); // the last attempts land at the stub after their callers gave up
      return { readMs: read.ms, calls: (await charges()) - before, waited };
    };
    try {
      await setMitigations({ preset: 'none' });
      const naive = await burst(`pool-naive-${base}`);
      // 12 writes of ~600 ms over 5 slots: a read that arrives behind them waits for a slot.
      assert.ok(naive.waited >= 5, `the shared pool queued only ${naive.waited} requests (12 writes, 5 slots)`);
      assert.ok(naive.readMs > 400, `naive: a read took ${naive.readMs.toFixed(0)} ms behind the write burst; expected it to queue`);
      // No budget, no backoff: three charges sent per write (the timed-out ones still reach the stub).
      assert.ok(naive.calls >= 30, `naive: ${naive.calls} charges for 12 writes; expected ~36 (3 attempts each)`);

      await setMitigations({ preset: 'all' });
      const fixed = await burst(`pool-fixed-${base}`);
      assert.ok(fixed.readMs < 300, `bulkheads: a read took ${fixed.readMs.toFixed(0)} ms during the burst`);
      // Timeouts are not retried, and the breaker opens: at most one charge per write.
      assert.ok(fixed.calls <= 12, `mitigated: ${fixed.calls} charges for 12 writes`);
      process.stdout.write(`# read during a 12-write burst: naive ${naive.readMs.toFixed(0)} ms, bulkheads ${fixed.readMs.toFixed(0)} ms; charges ${naive.calls} vs ${fixed.calls}\n`);
    } finally {
      await paymentsControl(null);
      await setMitigations({ preset: 'none' });
    }
  });

  /** Queues one pending order, waits for a worker to hold it mid-charge, SIGKILLs that worker; returns the order. */
  async function killMidSettlement(tag: string): Promise<{ id: number; holder: string }> {
    // 4 s a charge: long enough to kill the holder mid-charge, under the naive worker's 5 s call timeout.
    await paymentsControl({ latency_ms: 4_000, jitter_ms: 0 });
    const { rows } = await db!.query<{ order_id: number }>(
      `WITH o AS (INSERT INTO orders (customer_id, amount_cents, idempotency_key, status) VALUES (7, 777, $1, 'payment_pending') RETURNING id)
       INSERT INTO payment_queue (order_id, visible_at) SELECT id, now() FROM o RETURNING order_id`,
      [`${tag}-${base}`],
    );
    const id = rows[0].order_id;
    let holder = '';
    for (let i = 0; i < 40 && holder === ''; i++) {
      await sleep(100);
      holder = (await db!.query<{ claimed_by: string | null }>('SELECT claimed_by FROM payment_queue WHERE order_id = $1', [id])).rows[0]?.claimed_by ?? '';
    }
    assert.notEqual(holder, '', 'no worker claimed the order');
    await sleep(300); // mid-charge: payments holds it for 4 s
    const status = (await db!.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [id])).rows[0].status;
    assert.equal(status, 'processing');
    // The controller's kill fault (SIGKILL to the process group), through its API: quicker than a CLI start.
    await chaos('inject', { type: 'kill', target: holder, params: {}, duration_s: 60, concurrent: true });
    await paymentsControl(null);
    return { id, holder };
  }
  async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
    const until = Date.now() + ms;
    for (;;) {
      const v = await probe();
      if (v !== undefined) return v;
      assert.ok(Date.now() < until, `timed out waiting for ${what}`);
      await sleep(250);
    }
  }
  const chargeCalls = async (id: number): Promise<number> => {
    const res = await fetch(`${url('payments')}/charges/order-${id}`);
    return res.status === 200 ? ((await res.json()) as { calls: number }).calls : 0;
  };

  test('a worker killed mid-settlement: naive, the re-delivery is refused and the order stranded; reconcile settles it exactly once', async () => {
    await setMitigations({ preset: 'none' });
    const naive = await killMidSettlement('strand');
    const refusals = async (): Promise<number> => {
      let sum = 0;
      for (const w of ['worker', 'worker-2']) sum += (await metric(w, 'lab_worker_settled_total{result="refused_processing"}')) || 0;
      return sum;
    };
    // The lease (8 s) expires; the other worker takes the row and refuses it because the order says processing.
    await waitFor('the naive re-delivery', 20_000, async () => {
      const q = await db!.query('SELECT 1 FROM payment_queue WHERE order_id = $1', [naive.id]);
      return q.rowCount === 0 ? true : undefined;
    });
    const stranded = (await db!.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [naive.id])).rows[0].status;
    assert.equal(stranded, 'processing', 'naive: the order should be stranded in processing with no queue row');
    // Whichever worker took the re-delivery counted its refusal (the first such event on this lab).
    assert.ok((await refusals()) >= 1, 'refused_processing was not counted');

    // Reconcile on: the same crash, and the order is settled from payments' record — one charge, not two.
    await setMitigations({ preset: 'none', reconcile: true });
    const duplicatesBefore = ((await (await fetch(`${url('payments')}/stats`)).json()) as { duplicate_calls: number }).duplicate_calls;
    const fixed = await killMidSettlement('reclaim');
    const settled = await waitFor('the re-claim', 25_000, async () => {
      const s = (await db!.query<{ status: string }>('SELECT status FROM orders WHERE id = $1', [fixed.id])).rows[0].status;
      return s === 'paid' ? s : undefined;
    });
    assert.equal(settled, 'paid');
    assert.equal((await db!.query('SELECT 1 FROM payment_queue WHERE order_id = $1', [fixed.id])).rowCount, 0, 'the queue row must be gone');
    assert.equal(await chargeCalls(fixed.id), 1, 'exactly one charge call for the re-claimed order');
    const duplicatesAfter = ((await (await fetch(`${url('payments')}/stats`)).json()) as { duplicate_calls: number }).duplicate_calls;
    assert.equal(duplicatesAfter, duplicatesBefore, 'no charge replayed');
    // Leave the lab consistent for the next test: the stranded order is settled by hand.
    await db!.query(`UPDATE orders SET status = 'paid' WHERE id = $1`, [naive.id]);
    await setMitigations({ preset: 'none' });
  });

  test('disk full on the primary: writes are refused, and every acknowledged order is in the table once space is back', async () => {
    const api = url('api', 'proxy');
    const acked = new Set<string>();
    let refused = 0;
    let stop = false;
    let n = 0;
    const writer = async (w: number): Promise<void> => {
      while (!stop) {
        const key = `disk-${base}-${w}-${n++}`;
        try {
          const r = await post(api, key, 3_000);
          if (r.status === 200 || r.status === 201 || r.status === 202) acked.add(key);
          else refused++;
        } catch {
          refused++; // no answer in time: not acknowledged
        }
      }
    };
    const writers = Array.from({ length: 4 }, (_, w) => writer(w));
    await sleep(1_000);
    const ackedBeforeFill = acked.size;
    const tFill = performance.now();
    const fault = await chaos('inject', { type: 'disk_fill', target: 'postgres-primary', params: { pct: 100 }, duration_s: 60 });
    const fillMs = performance.now() - tFill;
    try {
      // Until the primary refuses writes (or 20 s pass: then the assertion below says so).
      const until = Date.now() + 20_000;
      const refusedAtFill = refused;
      while (refused - refusedAtFill < 10 && Date.now() < until) await sleep(100);
      assert.ok(refused - refusedAtFill >= 10, `the full disk never made the primary refuse writes (${refused - refusedAtFill} refused)`);
    } finally {
      await chaos(`revert/${encodeURIComponent(fault.id)}`);
    }
    const refusedMs = performance.now() - tFill;
    // Space is back: writes are acknowledged again (the primary may have restarted after a PANIC).
    const ackedAtRevert = acked.size;
    const tRevert = performance.now();
    await waitFor('writes to be acknowledged again', 40_000, async () => (acked.size >= ackedAtRevert + 3 ? true : undefined));
    const recoveryMs = performance.now() - tRevert;
    stop = true;
    await Promise.all(writers);
    assert.ok(ackedBeforeFill > 0, 'no write was acknowledged before the fill');
    await db?.end().catch(() => {});
    db = await connect();
    const keys = [...acked];
    const { rows } = await db.query<{ k: string }>('SELECT idempotency_key AS k FROM orders WHERE idempotency_key = ANY($1)', [keys]);
    const present = new Set(rows.map((r) => r.k));
    const lost = keys.filter((k) => !present.has(k));
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} of ${keys.length} acknowledged orders are missing after the disk-full`);
    process.stdout.write(`# disk full: ${keys.length} writes acknowledged, ${refused} refused, 0 lost; fill ${(fillMs / 1000).toFixed(1)} s, refused until the revert ${(refusedMs / 1000).toFixed(1)} s, writes back ${(recoveryMs / 1000).toFixed(1)} s after it\n`);
  });
  test('SIGTERM: naive, the requests in flight are dropped; with drain they are answered, and the switch survives the restart', async () => {
    await paymentsControl({ latency_ms: 1_000, jitter_ms: 0 }); // naive client: 3 × 200 ms, ~600 ms a write
    const target = url('orders-2');
    const ready = (): Promise<true | undefined> =>
      fetch(`${target}/readyz`)
        .then((r) => (r.status === 200 ? (true as const) : undefined))
        .catch(() => undefined);
    const terminateDuring = async (tag: string): Promise<number[]> => {
      const writes = Array.from({ length: 4 }, (_, i) => post(target, `${tag}-${base}-${i}`).then((r) => r.status, () => 0));
      await sleep(150);
      await chaos('inject', { type: 'terminate', target: 'orders-2', params: { grace_ms: 5_000 }, duration_s: 60, concurrent: true });
      const statuses = await Promise.all(writes);
      await waitFor('orders-2 back', 40_000, ready);
      return statuses;
    };
    try {
      await setMitigations({ preset: 'none' });
      const naive = await terminateDuring('drain-off');
      assert.ok(naive.includes(0), `naive: every request in flight was answered (${naive.join(', ')}); expected SIGTERM to drop them`);
      await setMitigations({ preset: 'none', drain: true });
      const drained = await terminateDuring('drain-on');
      assert.deepEqual(drained.filter((s) => s === 0), [], `drain: a request in flight got no answer (${drained.join(', ')})`);
      const after = (await (await fetch(`${target}/__lab/mitigations`)).json()) as { drain: { enabled: boolean } };
      assert.equal(after.drain.enabled, true, 'the restarted orders-2 kept the live switch');
    } finally {
      await paymentsControl(null);
      await setMitigations({ preset: 'none' });
    }
  });
});
