// Smoke test for the example shop service: real PostgreSQL 15, real Redis, the pricing stub and the shop,
// each a separate process on a free loopback port, all inside one temp dir that is removed afterwards.
//
//   node --import tsx --test examples/shop/smoke.test.ts
//
// Needs: /usr/lib/postgresql/15/bin/{initdb,postgres}, redis-server on PATH, a `postgres` system user
// (PostgreSQL refuses to run as root, so when we are root it runs as that user).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PG_BIN = '/usr/lib/postgresql/15/bin';
const LOOPBACK = '127.0.0.1';

// ---------------------------------------------------------------------------
// Process bookkeeping: every process this file starts is recorded here and must be gone at the end.

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  tail: () => string;
}

const procs: Proc[] = [];

// Every process we start runs with its working directory inside the temp dir (postgres and redis chdir to
// their data dirs there too), which is how leftovers are recognised, without any risk of touching other
// people's postgres or redis. The reaper is a detached watcher that holds a pipe from this process: when the
// pipe closes (after() finished, or this process died without running it - e.g. the runner was killed), it
// kills whatever still runs in the temp dir and removes it.
const REAPER = `
const fs = require('node:fs');
const dir = process.argv[1];
const under = () => fs.readdirSync('/proc').filter((e) => /^[0-9]+$/.test(e)).filter((e) => {
  try { const c = fs.readlinkSync('/proc/' + e + '/cwd').replace(/ \\(deleted\\)$/, ''); return c === dir || c.startsWith(dir + '/'); }
  catch { return false; }
}).map(Number);
async function sweep() {
  for (let i = 0; i < 50; i++) {
    const pids = under();
    if (pids.length === 0) break;
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch {} }
    await new Promise((r) => setTimeout(r, 100));
  }
  try { fs.rmSync(dir, { recursive: true, force: true }); } catch {}
  process.exit(0);
}
process.on('SIGINT', () => {});
process.stdin.on('end', sweep);
process.stdin.on('error', sweep);
process.stdin.resume();
`;

function start(
  name: string,
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd: string; uid?: number; gid?: number },
): Proc {
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? { PATH: process.env.PATH },
    uid: opts.uid,
    gid: opts.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(line);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      lines.push(`spawn error: ${err.message}`);
      if (child.pid === undefined) resolve({ code: -1, signal: null });
    });
  });
  if (child.pid === undefined) throw new Error(`${name}: could not spawn ${cmd}`);
  const proc: Proc = { name, child, pid: child.pid, exited, tail: () => `--- ${name} output ---\n${lines.slice(-40).join('\n')}` };
  procs.push(proc);
  return proc;
}

const isRunning = (p: Proc) => p.child.exitCode === null && p.child.signalCode === null;

async function stop(p: Proc, signal: NodeJS.Signals, graceMs: number) {
  if (!isRunning(p)) return p.exited;
  p.child.kill(signal);
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
  if ((await Promise.race([p.exited, timer])) === 'timeout') p.child.kill('SIGKILL');
  return p.exited;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, proc: Proc | null, check: () => Promise<boolean>, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    if (proc && !isRunning(proc)) throw new Error(`${what}: process exited early\n${proc.tail()}`);
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    await sleep(100);
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms (${String(last)})${proc ? `\n${proc.tail()}` : ''}`);
}

// Distinct free loopback ports: hold them all open, then release together.
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, LOOPBACK, () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function systemUser(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no ${name} user in /etc/passwd`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

// Processes whose working directory lies inside our temp dir (postgres backends and redis chdir there).
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`).replace(/ \(deleted\)$/, '');
      if (cwd === dir || cwd.startsWith(`${dir}/`)) found.push(`${entry} (${cwd})`);
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}

// ---------------------------------------------------------------------------
// HTTP client

interface Reply {
  status: number;
  type: string;
  body: any;
  ms: number;
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<Reply> {
  const started = Date.now();
  const init: RequestInit = { method, signal: AbortSignal.timeout(10000) };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(`${base}${path}`, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // leave as text; the assertions will say so
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: parsed, ms: Date.now() - started };
}

// The pricing stub's documented price list.
const unitPrice = (id: number) => 199 + ((id * 7919) % 9800);

// ---------------------------------------------------------------------------
// The environment

let tmp = '';
let pgProc: Proc;
let redisProc: Proc;
let stubProc: Proc;
let shopProc: Proc;
let shopBase = '';
let databaseUrl = '';
let redisUrl = '';
let pricingUrl = '';
let db: pg.Client | null = null;
let hangServer: http.Server | null = null;
let hangUrl = '';
let reaper: ChildProcess | null = null;
const hangHits = new EventEmitter();

async function startShop(pricing: string): Promise<void> {
  const [port] = await freePorts(1);
  shopBase = `http://${LOOPBACK}:${port}`;
  shopProc = start('shop', process.execPath, [join(HERE, 'server.mjs')], {
    cwd: tmp,
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: LOOPBACK,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      PRICING_URL: pricing,
    },
  });
  await waitFor('shop', shopProc, async () => (await call(shopBase, 'GET', '/readyz')).status === 200);
}

before(async () => {
  // As root, PostgreSQL runs as the postgres user (it refuses root); otherwise as ourselves.
  const asRoot = process.getuid?.() === 0;
  const pgUser: { uid?: number; gid?: number } = asRoot ? systemUser('postgres') : {};
  tmp = mkdtempSync(join(tmpdir(), 'shop-smoke-'));
  if (asRoot) chownSync(tmp, pgUser.uid!, pgUser.gid!);
  reaper = spawn(process.execPath, ['-e', REAPER, tmp], { cwd: '/', detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  const pgData = join(tmp, 'pgdata');
  const redisDir = join(tmp, 'redis');
  mkdirSync(redisDir);
  const [pgPort, redisPort, stubPort] = await freePorts(3);
  const cEnv = { PATH: process.env.PATH, LANG: 'C', LC_ALL: 'C' };

  // PostgreSQL 15 (as the postgres user when we are root), in the temp dir.
  const startPostgres = async () => {
    const initdb = start('initdb', join(PG_BIN, 'initdb'), [
      '-D', pgData, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions',
    ], { cwd: tmp, env: cEnv, ...pgUser });
    const init = await initdb.exited;
    assert.equal(init.code, 0, `initdb failed\n${initdb.tail()}`);

    pgProc = start('postgres', join(PG_BIN, 'postgres'), [
      '-D', pgData, '-p', String(pgPort),
      '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off',
      '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=30',
    ], { cwd: tmp, env: cEnv, ...pgUser });
    const adminUrl = `postgres://postgres@${LOOPBACK}:${pgPort}/postgres`;
    await waitFor('postgres', pgProc, async () => {
      const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 1000 });
      try {
        await c.connect();
        await c.query('SELECT 1');
        return true;
      } finally {
        await c.end().catch(() => {});
      }
    }, 30000);
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query('CREATE DATABASE shop');
    await admin.end();
    databaseUrl = `postgres://postgres@${LOOPBACK}:${pgPort}/shop`;
  };

  // Redis, no persistence.
  const startRedis = async () => {
    redisProc = start('redis', 'redis-server', [
      '--port', String(redisPort), '--bind', LOOPBACK, '--save', '', '--appendonly', 'no', '--dir', redisDir,
    ], { cwd: redisDir });
    redisUrl = `redis://${LOOPBACK}:${redisPort}`;
    await waitFor('redis', redisProc, async () => {
      const r = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      r.on('error', () => {}); // refused until redis listens; connect() rejects as well
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    });
  };

  // The pricing stub.
  const startStub = async () => {
    stubProc = start('pricing-stub', process.execPath, [join(HERE, 'pricing-stub.mjs')], {
      cwd: tmp,
      env: { PATH: process.env.PATH, PORT: String(stubPort), HOST: LOOPBACK },
    });
    pricingUrl = `http://${LOOPBACK}:${stubPort}`;
    await waitFor('pricing-stub', stubProc, async () => (await call(pricingUrl, 'GET', '/healthz')).status === 200);
  };

  // All three at once (initdb dominates); wait for every one before judging, so nothing is still starting
  // when after() cleans up.
  const started = await Promise.allSettled([startPostgres(), startRedis(), startStub()]);
  for (const r of started) if (r.status === 'rejected') throw r.reason;

  // A pricing endpoint that accepts connections and never answers (for the timeout check).
  hangServer = http.createServer(() => hangHits.emit('request'));
  await new Promise<void>((r) => hangServer!.listen(0, LOOPBACK, r));
  hangUrl = `http://${LOOPBACK}:${(hangServer.address() as net.AddressInfo).port}`;

  await startShop(pricingUrl);

  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
});

after(async () => {
  try {
    await db?.end().catch(() => {});
    if (hangServer) {
      hangServer.closeAllConnections();
      await new Promise((r) => hangServer!.close(r));
    }
    // The shop first (it is everybody's client), then its dependencies together.
    const wasRunning = new Set(procs.filter(isRunning));
    const results = new Map<Proc, { code: number | null; signal: NodeJS.Signals | null }>();
    const stopOne = async (p: Proc) => {
      // SIGINT is PostgreSQL's fast shutdown.
      results.set(p, await (p.name === 'postgres' ? stop(p, 'SIGINT', 10000) : stop(p, 'SIGTERM', 5000)));
    };
    await Promise.all(procs.filter((p) => p.name === 'shop').map(stopOne));
    await Promise.all(procs.filter((p) => p.name !== 'shop').map(stopOne));
    // A shop still running here (a test stopped midway) must shut down cleanly too.
    if (shopProc && wasRunning.has(shopProc)) {
      assert.deepEqual(results.get(shopProc), { code: 0, signal: null }, `shop shutdown\n${shopProc.tail()}`);
      assert.match(shopProc.tail(), /shop: bye/, 'shop closed its pools rather than hitting its deadline');
    }
    for (const p of procs) {
      assert.ok(!isRunning(p), `${p.name} (pid ${p.pid}) still running`);
      assert.throws(() => process.kill(p.pid, 0), { code: 'ESRCH' }, `${p.name} (pid ${p.pid}) still exists`);
    }
    if (tmp) {
      assert.deepEqual(processesUnder(tmp), [], 'processes left running in the temp dir');
      rmSync(tmp, { recursive: true, force: true });
      assert.ok(!existsSync(tmp), `temp dir ${tmp} left behind`);
    }
  } finally {
    // Normally there is nothing left for it; it still removes the temp dir if an assertion above failed.
    if (reaper && reaper.exitCode === null && reaper.signalCode === null) {
      const gone = new Promise((r) => reaper!.once('exit', r));
      reaper.stdin!.end();
      await gone;
      assert.throws(() => process.kill(reaper!.pid!, 0), { code: 'ESRCH' }, 'reaper still exists');
    }
  }
});

// ---------------------------------------------------------------------------
// The checks, in order (they share one environment).

test('healthz and readyz answer 200 when everything is up', async () => {
  const health = await call(shopBase, 'GET', '/healthz');
  assert.equal(health.status, 200);
  assert.deepEqual(health.body, { ok: true });
  const ready = await call(shopBase, 'GET', '/readyz');
  assert.equal(ready.status, 200);
  assert.equal(ready.body.ok, true);
  assert.deepEqual(ready.body.checks, { postgres: 'ok', redis: 'ok' });
});

test('schema is created and 100 products are seeded', async () => {
  const { rows } = await db!.query('SELECT count(*)::int AS n, min(id) AS lo, max(id) AS hi FROM products');
  assert.deepEqual(rows[0], { n: 100, lo: 1, hi: 100 });
  const orders = await db!.query('SELECT count(*)::int AS n FROM orders');
  assert.equal(orders.rows[0].n, 0);
});

test('GET /products/:id is cache-aside: miss from db, then hit from cache', async () => {
  const { rows } = await db!.query('SELECT id, name, price_cents FROM products WHERE id = 7');
  const first = await call(shopBase, 'GET', '/products/7');
  assert.equal(first.status, 200);
  assert.match(first.type, /application\/json/);
  assert.deepEqual(first.body, { ...rows[0], source: 'db' });

  const r = new Redis(redisUrl, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
  try {
    const ttl = await r.ttl('product:7');
    assert.ok(ttl > 0 && ttl <= 30, `TTL of product:7 is ${ttl}`);
    assert.deepEqual(JSON.parse((await r.get('product:7'))!), rows[0]);
  } finally {
    await r.quit();
  }

  const second = await call(shopBase, 'GET', '/products/7');
  assert.equal(second.status, 200);
  assert.deepEqual(second.body, { ...rows[0], source: 'cache' });
});

test('unknown products, orders and routes answer 404 JSON', async () => {
  for (const [method, path] of [
    ['GET', '/products/101'],
    ['GET', '/products/0'],
    ['GET', '/products/abc'],
    ['GET', '/products/99999999999999999999'],
    ['GET', '/orders/424242'],
    ['GET', '/orders/x'],
    ['GET', '/nope'],
    ['DELETE', '/products/1'],
    ['GET', '/orders'],
  ]) {
    const res = await call(shopBase, method, path);
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.match(res.type, /application\/json/, `${method} ${path}`);
    assert.equal(typeof res.body.error, 'string', `${method} ${path}`);
  }
  // A product that is absent is not cached.
  const r = new Redis(redisUrl, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
  try {
    assert.equal(await r.exists('product:101'), 0);
  } finally {
    await r.quit();
  }
});

test('POST /orders validates its input with 400s naming the field', async () => {
  const cases: Array<[unknown, string]> = [
    [{ quantity: 1 }, 'product_id'],
    [{ product_id: '7', quantity: 1 }, 'product_id'],
    [{ product_id: -3, quantity: 1 }, 'product_id'],
    [{ product_id: 7 }, 'quantity'],
    [{ product_id: 7, quantity: 0 }, 'quantity'],
    [{ product_id: 7, quantity: 1.5 }, 'quantity'],
    [{ product_id: 7, quantity: 100000 }, 'quantity'],
  ];
  for (const [body, field] of cases) {
    const res = await call(shopBase, 'POST', '/orders', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.field, field, JSON.stringify(body));
    assert.ok(res.body.error.includes(field), `error "${res.body.error}" should name ${field}`);
  }
  for (const raw of ['{not json', '[1,2]', 'null', '']) {
    const res = await call(shopBase, 'POST', '/orders', raw);
    assert.equal(res.status, 400, `body ${JSON.stringify(raw)}`);
    assert.equal(typeof res.body.error, 'string');
  }
  const missing = await call(shopBase, 'POST', '/orders', { product_id: 555, quantity: 1 });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.field, 'product_id');

  const { rows } = await db!.query('SELECT count(*)::int AS n FROM orders');
  assert.equal(rows[0].n, 0, 'no order stored for rejected requests');
});

test('POST /orders prices through the pricing API, stores the order, and GET /orders/:id reads it back', async () => {
  const small = await call(shopBase, 'POST', '/orders', { product_id: 7, quantity: 3 });
  assert.equal(small.status, 201, JSON.stringify(small.body));
  assert.equal(Number.isInteger(small.body.id), true);
  assert.equal(small.body.total_cents, unitPrice(7) * 3);

  const bulk = await call(shopBase, 'POST', '/orders', { product_id: 12, quantity: 10 });
  assert.equal(bulk.status, 201);
  assert.equal(bulk.body.total_cents, Math.round(unitPrice(12) * 10 * 0.9));
  assert.notEqual(bulk.body.id, small.body.id);

  const read = await call(shopBase, 'GET', `/orders/${small.body.id}`);
  assert.equal(read.status, 200);
  assert.equal(read.body.id, small.body.id);
  assert.equal(read.body.product_id, 7);
  assert.equal(read.body.quantity, 3);
  assert.equal(read.body.total_cents, small.body.total_cents);
  assert.ok(!Number.isNaN(Date.parse(read.body.created_at)));

  const { rows } = await db!.query('SELECT product_id, quantity, total_cents::int AS total FROM orders WHERE id = $1', [small.body.id]);
  assert.deepEqual(rows[0], { product_id: 7, quantity: 3, total: unitPrice(7) * 3 });
});

test('POST /orders answers 502 when the pricing API is down, and stores nothing', async () => {
  const before = (await db!.query('SELECT count(*)::int AS n FROM orders')).rows[0].n;
  const { signal } = await stop(stubProc, 'SIGKILL', 1000);
  assert.equal(signal, 'SIGKILL');
  const res = await call(shopBase, 'POST', '/orders', { product_id: 7, quantity: 1 });
  assert.equal(res.status, 502);
  assert.deepEqual(res.body, { error: 'pricing unavailable' });
  const afterCount = (await db!.query('SELECT count(*)::int AS n FROM orders')).rows[0].n;
  assert.equal(afterCount, before);
  // Reads do not depend on pricing.
  assert.equal((await call(shopBase, 'GET', '/products/8')).status, 200);
});

test('SIGTERM shuts the shop down with exit 0 within 5 s; a restart re-seeds idempotently', async () => {
  const started = Date.now();
  shopProc.child.kill('SIGTERM');
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5000).unref());
  const result = await Promise.race([shopProc.exited, timer]);
  assert.notEqual(result, 'timeout', `shop did not exit within 5 s\n${shopProc.tail()}`);
  assert.deepEqual(result, { code: 0, signal: null });
  assert.ok(Date.now() - started < 5000);
  assert.match(shopProc.tail(), /shop: bye/, 'shop closed its pools rather than hitting its deadline');

  await startShop(hangUrl);
  const { rows } = await db!.query('SELECT count(*)::int AS n FROM products');
  assert.equal(rows[0].n, 100);
  assert.equal((await call(shopBase, 'GET', '/orders/1')).status, 200, 'orders survive the restart');
});

test('POST /orders gives up on a pricing API that never answers after about 2 s', async () => {
  const res = await call(shopBase, 'POST', '/orders', { product_id: 9, quantity: 2 });
  assert.equal(res.status, 502);
  assert.deepEqual(res.body, { error: 'pricing unavailable' });
  assert.ok(res.ms >= 1900 && res.ms < 4000, `answered after ${res.ms} ms`);
});

test('readyz answers 503 naming redis when redis is killed; products fall back to the database', async () => {
  await stop(redisProc, 'SIGKILL', 1000);
  let ready: Reply | null = null;
  await waitFor('readyz 503', null, async () => {
    ready = await call(shopBase, 'GET', '/readyz');
    return ready.status === 503;
  }, 5000);
  assert.deepEqual(ready!.body.failed, ['redis']);
  assert.equal(ready!.body.ok, false);
  assert.equal(ready!.body.checks.postgres, 'ok');
  assert.notEqual(ready!.body.checks.redis, 'ok');

  assert.deepEqual((await call(shopBase, 'GET', '/healthz')).body, { ok: true });
  const product = await call(shopBase, 'GET', '/products/7');
  assert.equal(product.status, 200);
  assert.equal(product.body.source, 'db');
});

test('SIGTERM (with redis down) stops accepting but lets an in-flight request finish, then exits 0', async () => {
  // The order is in flight once the shop is waiting on the (never answering) pricing API.
  const asked = once(hangHits, 'request');
  let settled = false;
  const inFlight = call(shopBase, 'POST', '/orders', { product_id: 9, quantity: 2 }).finally(() => {
    settled = true;
  });
  await asked;
  shopProc.child.kill('SIGTERM');
  await waitFor('listener closed', null, async () => {
    try {
      await call(shopBase, 'GET', '/healthz');
      return false;
    } catch {
      return true; // refused
    }
  }, 3000);
  assert.equal(settled, false, 'new connections were refused while the order was still being handled');
  const res = await inFlight;
  assert.equal(res.status, 502, 'the in-flight order still got its answer');
  assert.deepEqual(await shopProc.exited, { code: 0, signal: null });
  assert.match(shopProc.tail(), /shop: bye/, 'shop closed its pools (redis already dead) rather than hitting its deadline');
});
