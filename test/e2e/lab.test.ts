/**
 * The lab end to end, on ONE lab for the whole file: `faultline up --detach` from nothing in a temp state dir,
 * orders through api, reads proven to come from the replica, the worker settling a failed payment, SIGKILL of
 * orders-2 with api routing around it, promtool on every /metrics, bad input everywhere, then `faultline down`
 * leaving no process, port or pid file. Skips (saying why) when PostgreSQL or Redis are not installed.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { isPortFree } from '../../src/supervisor/health.ts';
import { missingLabPrerequisites } from '../../src/supervisor/launch.ts';
import { labSecret, readPidRecords, statePaths } from '../../src/supervisor/state-dir.ts';
import { isRecordAlive, type PidRecord } from '../../src/core/process.ts';
import { signToken } from '../../src/supervisor/token.ts';
import { CONTROLLER_PORT_OFFSET, LAB_SERVICES } from '../../src/supervisor/topology.ts';
import { freeBasePort } from '../helpers/lab.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/faultline', import.meta.url).pathname;
const missing = missingLabPrerequisites();
const skip = missing.length > 0 ? `lab prerequisites missing: ${missing.join('; ')} (run npm run setup)` : false;
if (skip) process.stdout.write(`# skipping test/e2e/lab.test.ts — ${skip}\n`);
const hasPromtool = (() => {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** A base port whose whole lab range is free (the ports are base + the table's offsets). */
function faultline(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 90_000 });
}

describe('the lab', { skip, timeout: 180_000 }, () => {
  let stateDir = '';
  let base = 0;
  let api = '';
  let token = '';
  let db: pg.Client | undefined;
  const port = (name: string, which: 'port' | 'proxy'): number => base + LAB_SERVICES.find((r) => r.name === name)![which]!;
  const auth = (t = token): Record<string, string> => ({ authorization: `Bearer ${t}` });
  const json = { 'content-type': 'application/json' };

  async function post(body: unknown, headers: Record<string, string> = auth()): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(`${api}/orders`, { method: 'POST', headers: { ...json, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, body: await res.json(), headers: res.headers };
  }
  async function get(path: string, headers: Record<string, string> = auth()): Promise<{ status: number; body: any; headers: Headers }> {
    const res = await fetch(`${api}${path}`, { headers });
    return { status: res.status, body: await res.json(), headers: res.headers };
  }
  /** Polls GET /orders/{id} bypassing the cache until `accept` holds (replication takes a moment). */
  async function readUntil(id: number, accept: (r: { status: number; body: any }) => boolean, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await get(`/orders/${id}`, { ...auth(), 'cache-control': 'no-cache' });
      if (accept(r) || Date.now() > deadline) return r;
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  async function metric(svc: string, name: string): Promise<string> {
    const text = await (await fetch(`http://127.0.0.1:${port(svc, 'port')}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .join('\n');
  }
  const journal = (): { id: string; phase: string }[] =>
    readFileSync(join(stateDir, 'faults.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const orderCount = async (): Promise<number> => (await db!.query<{ n: number }>('SELECT count(*)::int AS n FROM orders')).rows[0].n;

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'faultline-lab-'));
    chmodSync(stateDir, 0o755); // the postgres user must reach its data dir inside
    base = await freeBasePort();
    const t0 = Date.now();
    // Short queue grace and retry so the worker test does not wait the production 30 s.
    await faultline(['up', '--detach', '--state-dir', stateDir, '--base-port', String(base)], {
      LAB_QUEUE_GRACE_MS: '1000',
      LAB_WORKER_RETRY_MS: '500',
    });
    process.stdout.write(`# lab cold start (up --detach, from nothing): ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    api = `http://127.0.0.1:${port('api', 'proxy')}`;
    token = (await faultline(['token', '--state-dir', stateDir])).stdout.trim();
    db = new pg.Client({ host: '127.0.0.1', port: port('postgres-primary', 'port'), user: 'lab', database: 'lab' });
    db.on('error', () => {}); // `down` terminates it; that is expected
    await db.connect();
  });

  after(async () => {
    await db?.end().catch(() => {});
    // Whatever happened above, nothing may stay running.
    if (stateDir) {
      await faultline(['down', '--state-dir', stateDir]).catch(() => {});
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('status: every service running, behind its proxy', async () => {
    const { stdout } = await faultline(['status', '--json', '--state-dir', stateDir]);
    const status = JSON.parse(stdout);
    assert.equal(status.phase, 'running');
    for (const s of status.services) assert.ok(['running', 'done'].includes(s.state), `${s.name} is ${s.state}`);
    const proxies = (await (await fetch(`${status.controller_url}/proxies`)).json()) as Record<string, { upstream: string }>;
    for (const row of LAB_SERVICES.filter((r) => r.proxy !== undefined)) {
      assert.equal(proxies[row.name]?.upstream, `127.0.0.1:${base + row.port!}`, `proxy ${row.name}`);
    }
    const seeded = await db!.query<{ n: number }>(`SELECT count(*)::int AS n FROM orders WHERE idempotency_key LIKE 'seed-%'`);
    assert.ok(seeded.rows[0].n >= 10_000);
  });

  test('orders through api: 201 {id, status}; a repeated idempotency key never makes a second order', async () => {
    const key = `e2e-${Date.now()}`;
    const first = await post({ customer_id: 7, amount_cents: 1250, idempotency_key: key });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual(Object.keys(first.body).sort(), ['id', 'status']);
    assert.equal(first.body.status, 'paid');
    const again = await post({ customer_id: 7, amount_cents: 1250, idempotency_key: key });
    assert.equal(again.status, 200);
    assert.equal(again.body.id, first.body.id);
    const reused = await post({ customer_id: 7, amount_cents: 999, idempotency_key: key });
    assert.equal(reused.status, 409);
    const rows = await db!.query('SELECT id FROM orders WHERE idempotency_key = $1', [key]);
    assert.equal(rows.rowCount, 1);
    const declined = await post({ customer_id: 7, amount_cents: 2_000_000, idempotency_key: `${key}-big` });
    assert.equal(declined.status, 201);
    assert.equal(declined.body.status, 'declined');
  });

  test('reads come from the replica (cache bypassed), then from the cache', async () => {
    const created = await post({ customer_id: 9, amount_cents: 4200, idempotency_key: `read-${Date.now()}` });
    assert.equal(created.status, 201);
    const id = created.body.id as number;
    const fromReplica = await readUntil(id, (r) => r.status === 200);
    assert.equal(fromReplica.status, 200, JSON.stringify(fromReplica.body));
    assert.equal(fromReplica.headers.get('x-lab-source'), 'replica');
    assert.equal(fromReplica.body.id, id);
    assert.equal(fromReplica.body.amount_cents, 4200);
    // The pool that served it is a hot standby, and the primary sees it streaming.
    for (const svc of ['orders-1', 'orders-2']) assert.match(await metric(svc, 'lab_replica_in_recovery'), /lab_replica_in_recovery 1/);
    const standby = await db!.query(`SELECT state FROM pg_stat_replication`);
    assert.equal(standby.rows[0]?.state, 'streaming');
    // Cache-aside: a normal read misses once (served by the replica, then cached), and later reads hit.
    const sources = new Set<string | null>();
    for (let i = 0; i < 4; i++) sources.add((await get(`/orders/${id}`)).headers.get('x-lab-source'));
    assert.ok(sources.has('cache'), `sources seen: ${[...sources].join(',')}`);
    const reads = (await metric('orders-1', 'lab_order_reads_total')) + (await metric('orders-2', 'lab_order_reads_total'));
    assert.match(reads, /source="replica"/);
  });

  test('worker settles an order whose payment failed, charging it once', async () => {
    const payments = `http://127.0.0.1:${port('payments', 'proxy')}`;
    const set = await fetch(`${payments}/control`, { method: 'POST', headers: json, body: JSON.stringify({ error_rate: 1 }) });
    assert.equal(set.status, 200);
    let failed;
    try {
      failed = await post({ customer_id: 3, amount_cents: 777, idempotency_key: `pend-${Date.now()}` });
    } finally {
      await fetch(`${payments}/control`, { method: 'DELETE' });
    }
    assert.equal(failed.status, 502);
    assert.equal(failed.body.code, 'PAYMENT_FAILED');
    assert.equal(failed.body.status, 'payment_pending');
    const id = failed.body.id as number;
    const settled = await readUntil(id, (r) => r.body?.status === 'paid', 15_000);
    assert.equal(settled.body.status, 'paid');
    const charge = (await (await fetch(`${payments}/charges/order-${id}`)).json()) as { calls: number };
    assert.equal(charge.calls, 1);
    const queue = await db!.query('SELECT 1 FROM payment_queue WHERE order_id = $1', [id]);
    assert.equal(queue.rowCount, 0);
  });

  test('every /metrics passes promtool check metrics and carries the lab metrics', { skip: hasPromtool ? false : 'promtool missing (Debian package prometheus)' }, async () => {
    for (const svc of ['api', 'orders-1', 'orders-2', 'payments', 'worker', 'worker-2']) {
      const text = await (await fetch(`http://127.0.0.1:${port(svc, 'port')}/metrics`)).text();
      const check = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
        );
        child.stdin!.end(text);
      });
      assert.equal(check.code, 0, `${svc}: ${check.out}`);
      for (const name of ['lab_http_request_duration_seconds_bucket', 'lab_http_requests_in_flight', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_gc_duration_seconds', 'nodejs_heap_size_used_bytes']) {
        assert.ok(text.includes(name), `${svc} lacks ${name}`);
      }
    }
    const orders = await (await fetch(`http://127.0.0.1:${port('orders-1', 'port')}/metrics`)).text();
    for (const name of ['lab_pg_pool_connections', 'lab_pg_pool_waiting_requests', 'lab_outbound_pool_sockets', 'lab_dependency_call_duration_seconds', 'lab_cache_requests_total', 'lab_replication_lag_bytes', 'lab_replication_lag_seconds']) {
      assert.ok(orders.includes(name), `orders-1 lacks ${name}`);
    }
  });

  test('bad input gets a clear 4xx JSON body, and writes nothing', async () => {
    const before = await orderCount();
    const secret = labSecret(statePaths(stateDir), false)!;
    const now = Math.floor(Date.now() / 1000);
    const expired = signToken({ sub: 't', iat: now - 7200, nbf: now - 7200, exp: now - 3600 }, secret);
    const early = signToken({ sub: 't', iat: now, nbf: now + 3600, exp: now + 7200 }, secret);
    const forged = signToken({ sub: 't', iat: now, nbf: now, exp: now + 3600 }, 'not-the-secret');
    const valid = { customer_id: 1, amount_cents: 100, idempotency_key: 'never-written' };
    const huge = JSON.stringify({ ...valid, pad: 'x'.repeat(64 * 1024) });
    const orders1 = `http://127.0.0.1:${port('orders-1', 'port')}`;
    const payments = `http://127.0.0.1:${port('payments', 'port')}`;
    const cases: Array<[string, string, string, Record<string, string>, string | undefined, number, string]> = [
      ['no token', 'POST', `${api}/orders`, json, JSON.stringify(valid), 401, 'UNAUTHORIZED'],
      ['no token (GET)', 'GET', `${api}/orders/1`, {}, undefined, 401, 'UNAUTHORIZED'],
      ['not a bearer', 'GET', `${api}/orders/1`, { authorization: 'Basic abc' }, undefined, 401, 'UNAUTHORIZED'],
      ['garbage token', 'GET', `${api}/orders/1`, auth('a.b.c'), undefined, 401, 'UNAUTHORIZED'],
      ['forged token', 'POST', `${api}/orders`, { ...json, ...auth(forged) }, JSON.stringify(valid), 401, 'UNAUTHORIZED'],
      ['expired token', 'POST', `${api}/orders`, { ...json, ...auth(expired) }, JSON.stringify(valid), 401, 'UNAUTHORIZED'],
      ['token not yet valid', 'GET', `${api}/orders/1`, auth(early), undefined, 401, 'UNAUTHORIZED'],
      ['empty body', 'POST', `${api}/orders`, { ...json, ...auth() }, '', 400, 'BAD_REQUEST_BODY'],
      ['invalid JSON', 'POST', `${api}/orders`, { ...json, ...auth() }, '{"customer_id":', 400, 'BAD_REQUEST_BODY'],
      ['JSON array', 'POST', `${api}/orders`, { ...json, ...auth() }, '[1,2]', 400, 'BAD_REQUEST_BODY'],
      ['missing fields', 'POST', `${api}/orders`, { ...json, ...auth() }, '{}', 400, 'INVALID_INPUT'],
      ['wrong types', 'POST', `${api}/orders`, { ...json, ...auth() }, JSON.stringify({ customer_id: '1', amount_cents: 1.5, idempotency_key: 42 }), 400, 'INVALID_INPUT'],
      ['negative amount', 'POST', `${api}/orders`, { ...json, ...auth() }, JSON.stringify({ ...valid, amount_cents: -5 }), 400, 'INVALID_INPUT'],
      ['bad key chars', 'POST', `${api}/orders`, { ...json, ...auth() }, JSON.stringify({ ...valid, idempotency_key: 'a b/c' }), 400, 'INVALID_INPUT'],
      ['huge body', 'POST', `${api}/orders`, { ...json, ...auth() }, huge, 413, 'BODY_TOO_LARGE'],
      ['wrong content type', 'POST', `${api}/orders`, { 'content-type': 'text/plain', ...auth() }, JSON.stringify(valid), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      ['non-numeric id', 'GET', `${api}/orders/abc`, auth(), undefined, 400, 'INVALID_ID'],
      ['zero id', 'GET', `${api}/orders/0`, auth(), undefined, 400, 'INVALID_ID'],
      ['enormous id', 'GET', `${api}/orders/99999999999999999999`, auth(), undefined, 400, 'INVALID_ID'],
      ['unknown id', 'GET', `${api}/orders/987654321`, auth(), undefined, 404, 'ORDER_NOT_FOUND'],
      ['unknown route', 'GET', `${api}/nope`, auth(), undefined, 404, 'ROUTE_NOT_FOUND'],
      ['wrong method', 'DELETE', `${api}/orders/1`, auth(), undefined, 405, 'METHOD_NOT_ALLOWED'],
      ['orders: missing fields', 'POST', `${orders1}/orders`, json, '{"amount_cents":5}', 400, 'INVALID_INPUT'],
      ['orders: huge body', 'POST', `${orders1}/orders`, json, huge, 413, 'BODY_TOO_LARGE'],
      ['orders: unknown id', 'GET', `${orders1}/orders/987654321`, {}, undefined, 404, 'ORDER_NOT_FOUND'],
      ['payments: bad charge', 'POST', `${payments}/charge`, json, '{"amount_cents":"x"}', 400, 'INVALID_INPUT'],
      ['payments: bad control', 'POST', `${payments}/control`, json, '{"error_rate":2,"mode":"sideways"}', 400, 'INVALID_INPUT'],
      ['payments: unknown charge', 'GET', `${payments}/charges/nope`, {}, undefined, 404, 'CHARGE_NOT_FOUND'],
    ];
    for (const [name, method, url, headers, body, status, code] of cases) {
      const res = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(5_000) });
      assert.match(res.headers.get('content-type') ?? '', /application\/json/, name);
      const payload = (await res.json()) as { error?: string; code?: string };
      assert.equal(res.status, status, `${name}: ${JSON.stringify(payload)}`);
      assert.equal(payload.code, code, name);
      assert.ok(typeof payload.error === 'string' && payload.error.length > 0, name);
    }
    assert.equal(await orderCount(), before, 'a refused request wrote an order');
  });

  test('faults through the controller: latency on payments slows POST /orders until reverted', async () => {
    // 120 ms: under the naive lab's 200 ms charge timeout, so the write is slower but still succeeds.
    const controller = `http://127.0.0.1:${base + CONTROLLER_PORT_OFFSET}`;
    const timedPost = async (): Promise<number> => {
      const t0 = performance.now();
      const r = await post({ customer_id: 7, amount_cents: 100, idempotency_key: `fault-${Math.random()}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return performance.now() - t0;
    };
    await timedPost();
    const injected = await faultline(['inject', 'latency', 'payments', 'delay_ms=120', '--duration', '60s', '--json', '--state-dir', stateDir]);
    const fault = JSON.parse(injected.stdout) as { id: string; phase: string; mechanism: string };
    assert.equal(fault.phase, 'injected');
    assert.equal(fault.mechanism, 'proxy toxic (latency)');
    const slow = await timedPost();
    assert.ok(slow >= 120, `POST took ${slow.toFixed(0)} ms with 120 ms on payments`);
    assert.match(await (await fetch(`${controller}/metrics`)).text(), /faultline_fault_active\{type="latency",target="payments"\} 1/);
    // One fault per target unless asked: a second one is refused and applies nothing.
    await assert.rejects(faultline(['inject', 'loss', 'payments', 'pct=5', '--state-dir', stateDir]), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /FL_TARGET_BUSY/);
      return true;
    });
    const listed = JSON.parse((await faultline(['faults', '--json', '--state-dir', stateDir])).stdout) as { id: string; phase: string }[];
    assert.deepEqual(listed.filter((f) => f.phase === 'injected').map((f) => f.id), [fault.id]);
    await faultline(['revert', fault.id, '--state-dir', stateDir]);
    const fast = await timedPost();
    assert.ok(fast < slow - 60, `POST still took ${fast.toFixed(0)} ms after the revert (${slow.toFixed(0)} ms with the fault)`);
    assert.match(await (await fetch(`${controller}/metrics`)).text(), /faultline_fault_active\{type="latency",target="payments"\} 0/);
    // Bad input names the field and the allowed values; exit code 2.
    await assert.rejects(faultline(['inject', 'latency', 'nope', 'delay_ms=-1', '--state-dir', stateDir]), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /target: unknown target "nope"; registered: .*payments/);
      assert.match(err.stderr, /params\.delay_ms/);
      return true;
    });
  });

  test('revert --all (halt) reverts every active fault and journals it', async () => {
    const a = JSON.parse((await faultline(['inject', 'down', 'redis', '--json', '--state-dir', stateDir])).stdout) as { id: string };
    const b = JSON.parse((await faultline(['inject', 'jitter', 'payments', 'jitter_ms=5', '--json', '--state-dir', stateDir])).stdout) as { id: string };
    const out = await faultline(['revert', '--all', '--state-dir', stateDir]);
    assert.match(out.stdout, /reverted 2 fault\(s\); still active: 0/);
    const last = (id: string): string | undefined => journal().filter((r) => r.id === id).at(-1)?.phase;
    assert.equal(last(a.id), 'reverted');
    assert.equal(last(b.id), 'reverted');
  });

  test('SIGKILL of orders-2: api routes around it, the supervisor restarts it', async () => {
    const record = JSON.parse(readFileSync(join(statePaths(stateDir).pidDir, 'orders-2.json'), 'utf8')) as PidRecord;
    process.kill(record.pid, 'SIGKILL');
    const results: Array<{ status: number; upstream: string | null }> = [];
    for (let i = 1; i <= 20; i++) {
      const r = await get(`/orders/${i}`);
      results.push({ status: r.status, upstream: r.headers.get('x-lab-upstream') });
    }
    const failures = results.filter((r) => r.status !== 200);
    assert.ok(failures.length <= 2, `failures: ${JSON.stringify(failures)}`);
    // Right after the kill (before any restart could finish), every success came from orders-1.
    assert.ok(results.filter((r) => r.status === 200).every((r) => r.upstream === 'orders-1'), JSON.stringify(results));
    assert.match(await metric('api', 'lab_upstream_ejections_total{upstream="orders-2"'), /[1-9]/);
    // The supervisor notices, restarts it, and api takes it back into rotation.
    const deadline = Date.now() + 20_000;
    let back = false;
    while (!back && Date.now() < deadline) {
      back = (await get(`/orders/${1 + Math.floor(Math.random() * 100)}`)).headers.get('x-lab-upstream') === 'orders-2';
      if (!back) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(back, 'orders-2 never came back into rotation');
    const status = JSON.parse((await faultline(['status', '--json', '--state-dir', stateDir])).stdout);
    const o2 = status.services.find((s: { name: string }) => s.name === 'orders-2');
    assert.equal(o2.state, 'running');
    assert.ok(o2.restarts >= 1);
  });

  test('down after the controller was SIGKILLed with a fault active: no process, port, pid file or fault left', async () => {
    await db?.end();
    db = undefined;
    const paths = statePaths(stateDir);
    const records = readPidRecords(paths);
    assert.ok(records.length >= 9, `pid files: ${records.map((r) => r.name).join(',')}`);
    const fault = JSON.parse((await faultline(['inject', 'latency', 'postgres-replica', 'delay_ms=50', '--json', '--state-dir', stateDir])).stdout) as { id: string };
    const controller = records.find((r) => r.name === 'controller')!;
    process.kill(controller.pid, 'SIGKILL');
    const { stdout } = await faultline(['down', '--state-dir', stateDir]);
    assert.match(stdout, /lab stopped/);
    assert.equal(journal().filter((r) => r.id === fault.id).at(-1)?.phase, 'reverted', 'the journal still says the fault is active');
    for (const r of records) assert.equal(isRecordAlive(r), false, `${r.name} (pid ${r.pid}) still alive`);
    assert.deepEqual(readdirSync(paths.pidDir), []);
    const ports = [base + CONTROLLER_PORT_OFFSET, ...LAB_SERVICES.flatMap((r) => [r.port, r.proxy]).filter((p): p is number => p !== undefined).map((p) => base + p)];
    for (const p of ports) assert.equal(await isPortFree(p), true, `port ${p} still open`);
    // No process anywhere still refers to this state dir (postgres is started with -D <state>/pg/…).
    const stragglers = readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .filter((e) => {
        try {
          return readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(stateDir);
        } catch {
          return false;
        }
      });
    assert.deepEqual(stragglers, []);
    const status = await faultline(['status', '--state-dir', stateDir]).catch((err: { stdout: string }) => err);
    assert.match(status.stdout, /not running/);
  });
});
