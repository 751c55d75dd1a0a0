/**
 * The runtime agent on the example shop (examples/shop: node:http + pg + ioredis + fetch, which imports nothing
 * of faultline), started by `faultline up` with `agent: true`. Every fault is checked from outside, as the shop's
 * users see it: statuses, bodies and timings through the shop's proxy, or on its own port when the proxies are
 * down with the controller.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ChaosClient } from '../../src/controller/client.ts';
import { chaosToken } from '../../src/controller/token.ts';
import type { AgentView } from '../../src/agent/hub.ts';
import { isPortFree } from '../../src/supervisor/health.ts';
import { processStartTicks } from '../../src/core/process.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/faultline', import.meta.url).pathname;
const SHOP = new URL('../../examples/shop/faultline.yaml', import.meta.url).pathname;
const faultline = (args: string[]): Promise<{ stdout: string; stderr: string }> => run(process.execPath, [BIN, ...args], { timeout: 120_000 });
/** The shop's offsets from base_port (examples/shop/faultline.yaml). */
const OFFSETS = { shop: 80, pricing: 90, redis: 379, postgres: 432, controller: 474, shopProxy: 1080, pricingProxy: 1090, redisProxy: 1379, postgresProxy: 1432 };

async function freeBase(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const base = 12_000 + Math.floor(Math.random() * 14) * 1_000 + 300;
    if ((await Promise.all(Object.values(OFFSETS).map((o) => isPortFree(base + o)))).every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  ms: number;
}

async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const t0 = performance.now();
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, ms: performance.now() - t0 };
}

describe('the runtime agent in the example shop', { timeout: 240_000 }, () => {
  let dir = '';
  let state = '';
  let base = 0;
  let shop = '';
  let chaos: ChaosClient;
  let controllerUrl = '';
  const order = (): Promise<Answer> => call(`${shop}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ product_id: 3, quantity: 2 }) });
  const agentView = async (): Promise<AgentView | null> => {
    const { targets } = (await (await fetch(`${controllerUrl}/chaos/targets`)).json()) as { targets: { name: string; agent?: AgentView | null }[] };
    return targets.find((t) => t.name === 'shop')?.agent ?? null;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faultline-agent-e2e-'));
    chmodSync(dir, 0o755); // postgres runs as its own user when we are root: it must reach its data dir
    state = join(dir, 'state');
    base = await freeBase();
    await faultline(['up', '--detach', '--system', SHOP, '--state-dir', state, '--base-port', String(base)]);
    controllerUrl = (JSON.parse(readFileSync(join(state, 'status.json'), 'utf8')) as { controller_url: string }).controller_url;
    chaos = new ChaosClient(controllerUrl, chaosToken(state));
    shop = `http://127.0.0.1:${base + OFFSETS.shopProxy}`;
    for (let i = 0; i < 100 && !(await agentView())?.connected; i++) await new Promise((r) => setTimeout(r, 100));
  });

  after(async () => {
    await faultline(['down', '--state-dir', state]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  test('discovery lists the shop’s real dependencies: postgres, redis and the pricing API, where it reaches them', async () => {
    assert.equal((await call(`${shop}/products/1`)).status, 200);
    assert.equal((await order()).status, 201);
    let view: AgentView | null = null;
    for (let i = 0; i < 60; i++) {
      view = await agentView();
      if ((view?.discovery?.dependencies.length ?? 0) >= 3 && view?.discovery?.dependencies.some((d) => d.library === 'fetch')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(view?.connected, 'the shop’s agent is connected');
    const deps = Object.fromEntries(view!.discovery!.dependencies.map((d) => [d.protocol, d]));
    assert.deepEqual(
      Object.values(deps).map((d) => [d.protocol, d.library, d.port]).sort(),
      [
        ['http', 'fetch', base + OFFSETS.pricingProxy],
        ['postgres', 'pg', base + OFFSETS.postgresProxy],
        ['redis', 'ioredis', base + OFFSETS.redisProxy],
      ].sort(),
    );
    assert.ok(deps.http.operations.some((o) => o.op === 'GET /quote'));
    assert.ok(deps.postgres.operations.some((o) => o.op.startsWith('INSERT INTO orders')));
    assert.ok(deps.redis.operations.some((o) => o.op === 'GET'));
    assert.ok(view!.discovery!.routes.some((r) => r.method === 'GET' && r.path === '/products/:id'));
    assert.deepEqual(view!.libraries.map((l) => l.name).sort(), ['fetch', 'http', 'ioredis', 'pg']);
  });

  test('route_exception: one customer’s product page gets the shop’s own 500; other customers and, after the revert, everyone get 200', async () => {
    const f = await chaos.inject({ type: 'route_exception', target: 'shop', params: { method: 'GET', path: '/products/:id', headers: { 'x-customer': '42' } }, duration_s: 60 });
    const hit = await call(`${shop}/products/5`, { headers: { 'x-customer': '42' } });
    assert.deepEqual([hit.status, hit.body], [500, { error: 'internal error' }]);
    assert.equal((await call(`${shop}/products/5`, { headers: { 'x-customer': '7' } })).status, 200);
    assert.equal((await call(`${shop}/orders/1`, { headers: { 'x-customer': '42' } })).status, 200, 'another route');
    assert.equal((await chaos.revert(f.id)).verified, true);
    assert.equal((await call(`${shop}/products/5`, { headers: { 'x-customer': '42' } })).status, 200);
  });

  test('call_latency on one pg query pattern: order reads wait 400 ms more, product reads do not', async () => {
    const before = await call(`${shop}/orders/1`);
    const f = await chaos.inject({ type: 'call_latency', target: 'shop', params: { library: 'pg', statement: 'FROM orders WHERE id', delay_ms: 400 }, duration_s: 60 });
    const slow = await call(`${shop}/orders/1`);
    const other = await call(`${shop}/products/9`);
    await chaos.revert(f.id);
    const after = await call(`${shop}/orders/1`);
    assert.equal(slow.status, 200);
    assert.ok(slow.ms >= 400, `an order read took ${slow.ms.toFixed(0)} ms under the fault`);
    assert.ok(other.ms < 400 && before.ms < 400 && after.ms < 400, `product ${other.ms.toFixed(0)} ms, order before ${before.ms.toFixed(0)} ms, after ${after.ms.toFixed(0)} ms`);
  });

  test('call_error on the redis GET command: the shop treats the ReplyError as a cache miss and serves from postgres', async () => {
    await call(`${shop}/products/11`);
    assert.equal((await call(`${shop}/products/11`)).body.source, 'cache');
    const f = await chaos.inject({ type: 'call_error', target: 'shop', params: { library: 'ioredis', command: 'GET', code: 'READONLY' }, duration_s: 60 });
    const during = [await call(`${shop}/products/11`), await call(`${shop}/products/11`)];
    await chaos.revert(f.id);
    assert.deepEqual(during.map((a) => [a.status, a.body.source]), [[200, 'db'], [200, 'db']]);
    assert.equal((await call(`${shop}/products/11`)).body.source, 'cache');
    const log = readFileSync(join(state, 'logs', 'shop.log'), 'utf8');
    assert.match(log, /cache read failed for product:11: READONLY/);
  });

  test('call_error on the pricing API: fetch fails with ECONNRESET and the shop answers 502', async () => {
    const f = await chaos.inject({ type: 'call_error', target: 'shop', params: { library: 'fetch', host: `127.0.0.1:${base + OFFSETS.pricingProxy}` }, duration_s: 60 });
    const failed = await order();
    await chaos.revert(f.id);
    assert.deepEqual([failed.status, failed.body], [502, { error: 'pricing unavailable' }]);
    assert.match(readFileSync(join(state, 'logs', 'shop.log'), 'utf8'), /pricing call failed: ECONNRESET/);
    assert.equal((await order()).status, 201);
  });

  test('a controller SIGKILL with an agent fault active: the same shop process drops it by its TTL, the controller being gone', async () => {
    const ttlS = 3;
    const direct = `http://127.0.0.1:${base + OFFSETS.shop}/healthz`;
    const status = JSON.parse(readFileSync(join(state, 'status.json'), 'utf8')) as { controller_pid: number; services: { name: string; pid: number | null }[] };
    const shopPid = status.services.find((s) => s.name === 'shop')!.pid!;
    const shopTicks = processStartTicks(shopPid);
    const f = await chaos.inject({ type: 'route_exception', target: 'shop', params: { path: '/healthz' }, duration_s: ttlS });
    const armedAt = performance.now();
    assert.equal((await call(direct)).status, 500);
    const pid = status.controller_pid;
    process.kill(pid, 'SIGKILL');
    assert.equal((await call(direct)).status, 500, 'right after the kill, the agent still holds the fault');
    let endedMs = Infinity;
    while (performance.now() - armedAt < (ttlS + 4) * 1000) {
      // The shop's own port: it answers while the proxies are down with the controller.
      const answer = await call(direct).catch(() => undefined);
      if (answer?.status === 200) {
        endedMs = performance.now() - armedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    // The controller the watchdog restarts adopts the live shop: a process that fails its health check for a while
    // (here: the fault is on /healthz itself, until the agent drops it) is waited for, never replaced.
    assert.equal(processStartTicks(shopPid), shopTicks, 'the restarted controller replaced the shop process instead of adopting it');
    assert.ok(endedMs <= ttlS * 1000 + 1_000, `the fault (TTL ${ttlS} s) ended ${(endedMs / 1000).toFixed(2)} s after it was armed`);
    // The watchdog restarted the controller; the journal says the fault is over, and by whom.
    for (let i = 0; i < 100; i++) {
      const s = JSON.parse(readFileSync(join(state, 'status.json'), 'utf8')) as { controller_pid: number; phase: string };
      if (s.controller_pid !== pid && s.phase === 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(processStartTicks(shopPid), shopTicks, 'the restarted controller replaced the shop process once it was up');
    const record = (await chaos.list()).find((r) => r.id === f.id);
    assert.equal(record?.phase, 'reverted');
  });
});
