/**
 * One test per fault family built on the running lab (process, dependency, http, exception, plus network for
 * reference): inject through the chaos API, observe the effect from outside the way a user would (process state
 * in /proc, answers a client gets, a metric), revert, observe it gone. ONE lab for the whole file, started with
 * `faultline up --detach` in a temp state dir and stopped with `faultline down` (which also halts any fault a
 * failed test left). Skips, saying why, when the lab's prerequisites are missing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { Pool } from 'undici';
import { ChaosClient } from '../../src/controller/client.ts';
import { chaosToken } from '../../src/controller/token.ts';
import { procState } from '../../src/faults/kinds/process/pid.ts';
import { missingLabPrerequisites } from '../../src/supervisor/launch.ts';
import { processStartTicks, type PidRecord } from '../../src/core/process.ts';
import { CONTROLLER_PORT_OFFSET, LAB_SERVICES } from '../../src/supervisor/topology.ts';
import { freeBasePort } from '../helpers/lab.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/faultline', import.meta.url).pathname;
const missing = missingLabPrerequisites();
const skip = missing.length > 0 ? `lab prerequisites missing: ${missing.join('; ')} (run npm run setup)` : false;
if (skip) process.stdout.write(`# skipping test/e2e/faults.test.ts — ${skip}\n`);

const faultline = (args: string[]) => run(process.execPath, [BIN, ...args], { env: process.env, timeout: 120_000 });

describe('fault families on the running lab', { skip, timeout: 240_000 }, () => {
  let stateDir = '';
  let base = 0;
  let chaos: ChaosClient;
  const port = (name: string, which: 'port' | 'proxy'): number => base + LAB_SERVICES.find((r) => r.name === name)![which]!;
  const record = (name: string): PidRecord => JSON.parse(readFileSync(join(stateDir, 'pids', `${name}.json`), 'utf8'));
  async function get(url: string, timeoutMs = 2_000): Promise<number | 'timeout'> {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      return res.status;
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') return 'timeout';
      throw err;
    }
  }
  async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'faultline-faults-'));
    chmodSync(stateDir, 0o755);
    base = await freeBasePort();
    const t0 = Date.now();
    await faultline(['up', '--detach', '--state-dir', stateDir, '--base-port', String(base)]);
    process.stdout.write(`# lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    chaos = new ChaosClient(`http://127.0.0.1:${base + CONTROLLER_PORT_OFFSET}`, chaosToken(stateDir));
  });

  after(async () => {
    if (stateDir) {
      await faultline(['down', '--state-dir', stateDir]).catch(() => {});
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('process: pause freezes orders-2 (state T, no answers), revert thaws it; kill is over once the supervisor brought it back', async () => {
    const orders2 = `http://127.0.0.1:${port('orders-2', 'port')}/healthz`;
    const paused = await chaos.inject({ type: 'pause', target: 'orders-2', duration_s: 30 });
    assert.match(paused.mechanism, /SIGSTOP/);
    const { pid } = record('orders-2');
    assert.equal(procState(pid), 'T');
    assert.equal(await get(orders2, 300), 'timeout');
    const r = await chaos.revert(paused.id);
    assert.equal(r.verified, true);
    assert.notEqual(procState(pid), 'T');
    assert.equal(await get(orders2), 200);

    const before = record('orders-1');
    const killed = await chaos.inject({ type: 'kill', target: 'orders-1', duration_s: 60 });
    assert.equal(processStartTicks(before.pid), null, 'the killed pid is gone');
    const t0 = Date.now();
    const back = await chaos.revert(killed.id); // returns once a new orders-1 is healthy
    process.stdout.write(`# orders-1 back ${Date.now() - t0} ms after the revert was asked\n`);
    assert.equal(back.verified, true);
    assert.notEqual(record('orders-1').pid, before.pid);
    assert.equal(await get(`http://127.0.0.1:${port('orders-1', 'port')}/healthz`), 200);
  });

  test('process: rolling_restart of the orders group replaces orders-1 then orders-2, one at a time, and the api keeps answering', async () => {
    const pids = [record('orders-1').pid, record('orders-2').pid];
    const token = (await faultline(['token', '--state-dir', stateDir])).stdout.trim();
    const api = `http://127.0.0.1:${port('api', 'proxy')}/orders/1`;
    let polling = true;
    const statuses: (number | string)[] = [];
    const poller = (async () => {
      while (polling) {
        statuses.push(
          await fetch(api, { headers: { authorization: `Bearer ${token}`, 'cache-control': 'no-cache' }, signal: AbortSignal.timeout(2_000) }).then(
            async (r) => (await r.arrayBuffer(), r.status),
            (e: Error) => e.name,
          ),
        );
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const rolled = await chaos.inject({ type: 'rolling_restart', target: 'orders', params: { grace_ms: 2_000 }, duration_s: 120 });
    polling = false;
    await poller;
    assert.notEqual(record('orders-1').pid, pids[0]);
    assert.notEqual(record('orders-2').pid, pids[1]);
    const ok = statuses.filter((s) => s === 200).length;
    // How well the api rides a roll is the lab's resilience, measured elsewhere; here: reads kept flowing.
    process.stdout.write(`# reads through api during the roll: ${ok}/${statuses.length} answered 200\n`);
    assert.ok(ok > 0, `no read succeeded during the roll: ${statuses.join(',')}`);
    assert.equal((await chaos.revert(rolled.id)).verified, true);
  });

  test('dependency: payments answers the injected 5xx / hangs through its control endpoint; revert restores it', async () => {
    const charge = (key: string, timeoutMs = 2_000) =>
      fetch(`http://127.0.0.1:${port('payments', 'proxy')}/charge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ idempotency_key: key, amount_cents: 100 }),
        signal: AbortSignal.timeout(timeoutMs),
      }).then(
        async (r) => (await r.arrayBuffer(), r.status),
        () => 'timeout' as const,
      );
    const err = await chaos.inject({ type: 'dependency_error', target: 'payments', params: { pct: 100, status: 502 }, duration_s: 30 });
    assert.equal(await charge(`dep-a-${Date.now()}`), 502);
    await chaos.revert(err.id);
    assert.equal(await charge(`dep-b-${Date.now()}`), 201);

    const hang = await chaos.inject({ type: 'dependency_hang', target: 'payments', duration_s: 30 });
    assert.equal(await charge(`dep-c-${Date.now()}`, 400), 'timeout');
    assert.equal((await chaos.revert(hang.id)).verified, true);
    assert.equal(await charge(`dep-d-${Date.now()}`), 201);
    await assert.rejects(chaos.inject({ type: 'dependency_error', target: 'payments', params: { pct: 150 } }), /params\.pct/);
  });

  test('http: on ONE keep-alive connection some requests get the injected 503 and the others succeed; revert ends it', async () => {
    const pool = new Pool(`http://127.0.0.1:${port('payments', 'proxy')}`, { connections: 1 });
    try {
      const statuses = async (n: number): Promise<number[]> => {
        const out: number[] = [];
        for (let i = 0; i < n; i++) {
          const res = await pool.request({ path: '/healthz', method: 'GET' });
          await res.body.arrayBuffer();
          out.push(res.statusCode);
        }
        return out;
      };
      await statuses(1); // the connection exists before the fault: it must act on live keep-alive connections
      const f = await chaos.inject({ type: 'http_error', target: 'payments', params: { status: 503, pct: 50, seed: 5 }, duration_s: 30 });
      assert.match(f.mechanism, /http_fault/);
      const during = await statuses(30);
      assert.ok(during.includes(503) && during.includes(200), during.join(','));
      assert.ok(during.every((s) => s === 503 || s === 200));
      await chaos.revert(f.id);
      assert.deepEqual(new Set(await statuses(10)), new Set([200]));

      const d = await chaos.inject({ type: 'http_delay', target: 'payments', params: { delay_ms: 200 }, duration_s: 30 });
      const t0 = performance.now();
      await statuses(1);
      assert.ok(performance.now() - t0 >= 200);
      await chaos.revert(d.id);
    } finally {
      await pool.close();
    }
  });

  test('route_exception through the runtime agent: orders-1 throws on POST /orders only for customer 42, answered as any bug (a 500, nothing written); revert ends it', async () => {
    // The lab's services carry no fault code of their own: orders-1 runs unmodified under the agent (agent: true).
    const orders1 = `http://127.0.0.1:${port('orders-1', 'port')}`;
    const post = async (customer: number): Promise<{ status: number; body: Record<string, unknown>; key: string }> => {
      const key = `exc-${customer}-${Date.now()}-${Math.random()}`;
      // The header is what the api sends with every write it forwards (lab/api/main.ts).
      const res = await fetch(`${orders1}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-customer-id': String(customer) },
        body: JSON.stringify({ customer_id: customer, amount_cents: 500, idempotency_key: key }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown>, key };
    };
    const f = await chaos.inject({ type: 'route_exception', target: 'orders-1', params: { method: 'POST', path: '/orders', headers: { 'x-customer-id': '42' }, pct: 100 }, duration_s: 30 });
    const hit = await post(42);
    assert.deepEqual([hit.status, hit.body.code], [500, 'INTERNAL']);
    assert.equal((await post(7)).status, 201);
    // Thrown at the route's entry: the order the 500 refused was never written (a retry with its key creates it).
    const db = new pg.Client({ host: '127.0.0.1', port: port('postgres-primary', 'port'), user: 'lab', database: 'lab' });
    await db.connect();
    try {
      const { rows } = await db.query('SELECT count(*)::int AS n FROM orders WHERE idempotency_key = $1', [hit.key]);
      assert.equal(rows[0].n, 0, 'the refused order was written');
    } finally {
      await db.end();
    }
    // The agent reports its counts with its next poll of the controller.
    const rule = `faultline-${f.id}`; // the rule id the controller armed the agent with (faults/kinds/agent/via-agent.ts)
    const seen = async (): Promise<{ fired: Record<string, number>; rules: string[] } | undefined> =>
      ((await chaos.targets()) as unknown as { name: string; agent?: { fired: Record<string, number>; rules: string[] } }[]).find((t) => t.name === 'orders-1')?.agent;
    await until(async () => (await seen())?.fired[rule] !== undefined, 10_000, 'the agent to report what it fired');
    const agent = await seen();
    assert.deepEqual([agent?.rules, agent?.fired[rule]], [[rule], 1], 'the agent holds the rule and counted the one request it threw on');
    await chaos.revert(f.id);
    assert.equal((await post(42)).status, 201);
    await assert.rejects(chaos.inject({ type: 'route_exception', target: 'orders-1', params: { path: 'orders' } }), /path/);
  });

  test('network (reference): latency on payments is seen by a client, and gone after revert', async () => {
    const url = `http://127.0.0.1:${port('payments', 'proxy')}/healthz`;
    const timed = async (): Promise<number> => {
      const t0 = performance.now();
      assert.equal(await get(url), 200);
      return performance.now() - t0;
    };
    const f = await chaos.inject({ type: 'latency', target: 'payments', params: { delay_ms: 150 }, duration_s: 30 });
    assert.ok((await timed()) >= 150);
    await chaos.revert(f.id);
    assert.ok((await timed()) < 150);
    await until(async () => (await chaos.list()).every((x) => x.phase !== 'injected'), 2_000, 'no active fault');
  });
});
