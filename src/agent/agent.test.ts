/**
 * The agent in a real child process (node --import dist/agent.mjs), driven through a real AgentHub on loopback,
 * checked from outside the child: what its HTTP clients get back and how long they wait. The upstream the child
 * calls is a plain server in this test process.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ensureAgentBundle } from './bundle.ts';
import { AgentHub } from './hub.ts';
import type { Rule, RuleSpec } from './protocol.ts';

const APP = `
import http from 'node:http';
const up = process.env.UPSTREAM;
const server = http.createServer(async (req, res) => {
  const send = (s, b) => { res.writeHead(s, { 'content-type': 'application/json' }); res.end(JSON.stringify(b)); };
  try {
    if (req.url === '/fetch') { const r = await fetch(up + '/x'); await r.text(); return send(200, { ok: true }); }
    if (req.url === '/get') {
      const code = await new Promise((resolve) => http.get(up + '/y', (r) => { r.resume(); r.on('end', () => resolve('ok')); }).on('error', (e) => resolve(e.code)));
      return send(200, { code });
    }
    send(200, { ok: true, env: Object.keys(process.env).filter((k) => k.startsWith('FAULTLINE_AGENT')) });
  } catch (err) {
    if (!res.headersSent) send(500, { error: String(err.message), cause: err.cause?.code });
  }
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
`;

const PROBE = `
import dc from 'node:diagnostics_channel';
import Module from 'node:module';
import { createHash } from 'node:crypto';
const h = (f) => createHash('sha1').update(String(f)).digest('hex');
console.log(JSON.stringify({
  load: h(Module._load), fetch: h(globalThis.fetch),
  subs: ['http.server.request.start', 'http.client.request.start'].map((n) => dc.channel(n).hasSubscribers),
  handles: process._getActiveHandles().length,
}));
`;

let dir = '';
let bundle = '';

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, ms: performance.now() - t0 };
}

function startApp(env: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, ['--import', pathToFileURL(bundle).href, join(dir, 'app.mjs')], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve({ child, base: `http://127.0.0.1:${(JSON.parse(d.toString().split('\n')[0]) as { port: number }).port}` }));
    child.once('exit', (code) => reject(new Error(`app exited ${code}`)));
  });
}

async function listen(handler: http.RequestListener): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'faultline-agent-'));
  writeFileSync(join(dir, 'app.mjs'), APP);
  writeFileSync(join(dir, 'probe.mjs'), PROBE);
  bundle = await ensureAgentBundle();
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('without controller and token in its env the agent patches nothing and opens nothing', async () => {
  const probe = async (args: string[]): Promise<string> => {
    const child = spawn(process.execPath, [...args, join(dir, 'probe.mjs')], { env: { PATH: process.env.PATH, FAULTLINE_AGENT_SERVICE: 'x' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await once(child, 'exit');
    return out.trim();
  };
  const plain = await probe([]);
  const loaded = await probe(['--import', pathToFileURL(bundle).href]);
  assert.equal(loaded, plain, 'Module._load, fetch, channel subscribers and open handles are as without the agent');
  const withBoth = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['--import', pathToFileURL(bundle).href, join(dir, 'probe.mjs')], {
        env: { PATH: process.env.PATH, FAULTLINE_AGENT_CONTROLLER: 'http://127.0.0.1:9', FAULTLINE_AGENT_TOKEN: 't' },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', () => resolve(out.trim()));
  });
  assert.notEqual(withBoth, plain, 'the probe can tell an active agent apart (else this test could not fail)');
});

describe('an agent connected to a hub', { timeout: 60_000 }, () => {
  const hub = new AgentHub();
  let controller: { server: http.Server; url: string };
  let upstream: { server: http.Server; url: string };
  let app: { child: ChildProcess; base: string };
  let n = 0;
  const arm = (rule: RuleSpec & { ttl_s?: number }, id = `r${++n}`): Promise<string> =>
    hub.command('app', { cmd_id: `c${++n}`, op: 'arm', rule: { ttl_s: 30, ...rule, id } as Rule }).then(() => id);
  const disarm = (id: string): Promise<void> => hub.command('app', { cmd_id: `c${++n}`, op: 'disarm', id });

  before(async () => {
    hub.configure({ token: 'agent-secret', holdMs: 300 });
    const handle = hub.handler();
    controller = await listen((req, res) => void handle(req, res).then((mine) => mine || res.writeHead(404).end()));
    upstream = await listen((req, res) => res.end('upstream'));
    app = await startApp({ FAULTLINE_AGENT_CONTROLLER: controller.url, FAULTLINE_AGENT_TOKEN: 'agent-secret', FAULTLINE_AGENT_SERVICE: 'app', UPSTREAM: upstream.url });
    for (let i = 0; i < 100 && !hub.connected('app'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(hub.connected('app'), 'the agent registered');
  });
  after(() => {
    app?.child.kill('SIGKILL');
    hub.close();
    controller?.server.closeAllConnections();
    controller?.server.close();
    upstream?.server.close();
  });

  test('it registered with its pid and hides its env from the app', async () => {
    assert.equal(hub.describe('app')?.pid, app.child.pid);
    assert.deepEqual((await get(`${app.base}/`)).body.env, []);
  });

  test('route_exception: matching requests get the app’s own 500, others and later ones pass', async () => {
    const id = await arm({ type: 'route_exception', match: { method: ['GET'], path: '/plain', headers: { 'x-customer': '42' } }, pct: 100 });
    const hit = await get(`${app.base}/plain`, { 'x-customer': '42' });
    assert.equal(hit.status, 500);
    assert.match(String(hit.body.error), /faultline: exception injected in GET \/plain/);
    assert.equal((await get(`${app.base}/plain`, { 'x-customer': '7' })).status, 200);
    assert.equal((await get(`${app.base}/other`, { 'x-customer': '42' })).status, 200);
    await disarm(id);
    assert.equal((await get(`${app.base}/plain`, { 'x-customer': '42' })).status, 200);
  });

  test('call_error: http.get gets ECONNRESET on its error event, fetch a TypeError with that cause', async () => {
    const id = await arm({ type: 'call_error', match: { library: ['http'] }, pct: 100, code: 'ECONNRESET' });
    assert.deepEqual((await get(`${app.base}/get`)).body, { code: 'ECONNRESET' });
    assert.deepEqual((await get(`${app.base}/fetch`)).body, { ok: true }, 'fetch is not an http-library call');
    await disarm(id);
    const f = await arm({ type: 'call_error', match: { library: ['fetch'], host: new URL(upstream.url).host }, pct: 100 });
    const failed = await get(`${app.base}/fetch`);
    assert.deepEqual([failed.status, failed.body.error, failed.body.cause], [500, 'fetch failed', 'ECONNRESET']);
    await disarm(f);
    assert.deepEqual((await get(`${app.base}/get`)).body, { code: 'ok' });
  });

  test('call_latency: fetch and http.get wait delay_ms longer', async () => {
    const fast = await get(`${app.base}/fetch`);
    const id = await arm({ type: 'call_latency', match: { library: ['fetch', 'http'] }, pct: 100, delay_ms: 300, jitter_ms: 0 });
    const slow = await get(`${app.base}/fetch`);
    const slowGet = await get(`${app.base}/get`);
    await disarm(id);
    assert.ok(slow.ms >= 300 && slowGet.ms >= 300, `${slow.ms} ms, ${slowGet.ms} ms`);
    assert.ok(fast.ms < 300, `${fast.ms} ms before the fault`);
  });

  test('discovery: the upstream is listed per library with its operations, and the app’s routes', async () => {
    await new Promise((r) => setTimeout(r, 800));
    const d = hub.describe('app')!.discovery!;
    const port = Number(new URL(upstream.url).port);
    const deps = d.dependencies.map((x) => x.id).sort();
    assert.deepEqual(deps, [`fetch://127.0.0.1:${port}`, `http://127.0.0.1:${port}`]);
    const f = d.dependencies.find((x) => x.library === 'fetch')!;
    assert.equal(f.operations[0].op, 'GET /x');
    assert.ok(f.errors >= 1 && f.calls > f.errors);
    assert.ok(d.routes.some((r) => r.method === 'GET' && r.path === '/plain' && (r.statuses['5xx'] ?? 0) >= 1));
    assert.ok(!d.dependencies.some((x) => x.port === Number(new URL(controller.url).port)), 'its own channel is not a dependency');
  });

  test('dead-man: with the controller gone, a rule still ends at its TTL', async () => {
    await arm({ type: 'route_exception', match: { path: '/dm' }, pct: 100, ttl_s: 1.5 });
    const t0 = performance.now();
    hub.close();
    controller.server.closeAllConnections();
    controller.server.close();
    assert.equal((await get(`${app.base}/dm`)).status, 500);
    let ended = 0;
    while (performance.now() - t0 < 4_000) {
      if ((await get(`${app.base}/dm`)).status === 200) {
        ended = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(ended >= 1_300 && ended <= 2_300, `the rule ended ${ended.toFixed(0)} ms after arming (TTL 1500 ms)`);
  });
});

test('a command that is not signed with the agent token is refused, and the refusal acknowledged', async () => {
  let acks: unknown[] | undefined;
  let polls = 0;
  const fake = await listen((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const json = JSON.parse(body) as { acks?: unknown[]; rules?: string[] };
      if (req.url === '/agent/v1/register') return res.end(JSON.stringify({ session: 's', hold_ms: 200 }));
      polls++;
      if (polls === 1) {
        const rule = { id: 'evil', ttl_s: 60, type: 'route_exception', match: {}, pct: 100 };
        return res.end(JSON.stringify({ commands: [{ cmd_id: 'x1', op: 'arm', rule, sig: 'f'.repeat(64) }, { cmd_id: 'x2', op: 'arm', rule }] }));
      }
      if (polls === 2) acks = json.acks;
      setTimeout(() => res.end('{"commands":[]}'), 200);
    });
  });
  const a = await startApp({ FAULTLINE_AGENT_CONTROLLER: fake.url, FAULTLINE_AGENT_TOKEN: 'the-real-token', FAULTLINE_AGENT_SERVICE: 'app' });
  try {
    for (let i = 0; i < 100 && acks === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      (acks as { cmd_id: string; ok: boolean }[]).map((x) => [x.cmd_id, x.ok]),
      [
        ['x1', false],
        ['x2', false],
      ],
    );
    assert.equal((await get(`${a.base}/`)).status, 200, 'no rule was armed');
  } finally {
    a.child.kill('SIGKILL');
    fake.server.closeAllConnections();
    fake.server.close();
  }
});
