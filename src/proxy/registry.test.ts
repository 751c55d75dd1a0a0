/**
 * The registry's operations are atomic (issue 20): what listens is exactly what the API lists. Checked over the
 * HTTP API on loopback, against the kernel's own table of this process's listening sockets (/proc), so a
 * listener the registry lost track of cannot hide.
 *
 *   HTTP calls (in parallel) ─▶ ProxyRegistry ─▶ listeners ──▶ /proc/net/tcp{,6} ∩ /proc/self/fd  ==  GET /proxies
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { startProxyServer, type ProxyServer } from './server.ts';

const HAS_PROC = existsSync('/proc/self/fd') && existsSync('/proc/net/tcp');
const skip = HAS_PROC ? false : 'skipped: needs /proc (Linux) to list this process’s listening sockets';

/** Ports of the TCP sockets this process has in LISTEN state, read from the kernel. */
async function listeningPorts(): Promise<Set<number>> {
  const mine = new Set<string>();
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m !== null) mine.add(m[1]);
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue; // 0A = TCP_LISTEN
      if (mine.has(cols[9])) ports.add(parseInt(cols[1].split(':')[1], 16));
    }
  }
  return ports;
}

// JSON bodies are read field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function call(server: ProxyServer, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(server.url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function startApi(t: TestContext): Promise<ProxyServer> {
  const server = await startProxyServer({ port: 0 });
  t.after(() => server.close());
  return server;
}

/** Listening ports other than the API's own. */
async function proxyListeners(server: ProxyServer): Promise<number[]> {
  const ports = await listeningPorts();
  ports.delete(server.port);
  return [...ports].sort((a, b) => a - b);
}

/** Ports of the enabled proxies GET /proxies lists. */
async function listedPorts(server: ProxyServer): Promise<number[]> {
  const proxies = Object.values((await call(server, 'GET', '/proxies')).body as Record<string, Json>);
  return proxies
    .filter((p) => p.enabled)
    .map((p) => Number(String(p.listen).slice(String(p.listen).lastIndexOf(':') + 1)))
    .sort((a, b) => a - b);
}

describe('registry atomicity', { skip }, () => {
  test('the /proc probe sees a listener open and close', async (t) => {
    const server = await startApi(t);
    assert.ok((await listeningPorts()).has(server.port), 'the API port itself is seen');
    const r = await call(server, 'POST', '/proxies', { name: 'probe', listen: '127.0.0.1:0', upstream: '127.0.0.1:1' });
    const port = Number(r.body.listen.split(':')[1]);
    assert.deepEqual(await proxyListeners(server), [port]);
    assert.equal((await call(server, 'DELETE', '/proxies/probe')).status, 204);
    assert.deepEqual(await proxyListeners(server), []);
  });

  test('20 parallel creates of one name: one 201, nineteen 409, one listener', async (t) => {
    const server = await startApi(t);
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => call(server, 'POST', '/proxies', { name: 'same', listen: 'localhost:0', upstream: '127.0.0.1:1' })),
    );
    const statuses = replies.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, ...Array(19).fill(409)]);
    assert.deepEqual(await proxyListeners(server), await listedPorts(server));
    assert.equal((await proxyListeners(server)).length, 1);
    assert.equal((await call(server, 'DELETE', '/proxies/same')).status, 204);
    assert.deepEqual(await proxyListeners(server), [], 'nothing is left listening once the one proxy is deleted');
  });

  test('an update racing a delete never leaves a listener (30 proxies)', async (t) => {
    const server = await startApi(t);
    const names = Array.from({ length: 30 }, (_, i) => `p${i}`);
    for (const name of names) {
      assert.equal((await call(server, 'POST', '/proxies', { name, listen: '127.0.0.1:0', upstream: '127.0.0.1:1' })).status, 201);
    }
    const replies = await Promise.all(
      names.flatMap((name) => [call(server, 'PATCH', `/proxies/${name}`, { listen: 'localhost:0' }), call(server, 'DELETE', `/proxies/${name}`)]),
    );
    for (const [i, name] of names.entries()) {
      // Either order is fine (the PATCH reads its body first, so the DELETE may queue ahead of it): 404 then.
      assert.ok([200, 404].includes(replies[2 * i].status), `PATCH ${name}: ${replies[2 * i].status}`);
      assert.equal(replies[2 * i + 1].status, 204, `DELETE ${name}`);
    }
    assert.deepEqual((await call(server, 'GET', '/proxies')).body, {});
    assert.deepEqual(await proxyListeners(server), []);
  });

  test('a delete racing an enable, and a close during a create, leave nothing listening', async (t) => {
    const server = await startProxyServer({ port: 0 });
    let closed = false;
    t.after(() => (closed ? undefined : server.close()));
    await call(server, 'POST', '/proxies', { name: 'd', listen: '127.0.0.1:0', upstream: '127.0.0.1:1', enabled: false });
    const [enable, del] = await Promise.all([
      call(server, 'PATCH', '/proxies/d', { enabled: true }),
      call(server, 'DELETE', '/proxies/d'),
    ]);
    assert.ok([200, 404].includes(enable.status), `PATCH: ${enable.status}`);
    assert.equal(del.status, 204);
    assert.deepEqual(await proxyListeners(server), []);
    // Shutdown while creates are queued: none of them may bind afterwards.
    const creating = Array.from({ length: 10 }, (_, i) =>
      server.registry.create({ name: `late${i}`, listen: '127.0.0.1:0', upstream: '127.0.0.1:1' }).catch(() => undefined),
    );
    await server.close();
    closed = true;
    await Promise.all(creating);
    assert.deepEqual([...(await listeningPorts())], [], 'no listener outlives close()');
  });

  test('property: after any sequence of API calls (in parallel bursts), listeners = enabled proxies listed', async (t) => {
    const names = ['a', 'b', 'c', 'd'];
    const name = fc.constantFrom(...names);
    const op = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), name, enabled: fc.boolean() }),
      fc.record({ kind: fc.constant('delete' as const), name }),
      fc.record({ kind: fc.constant('enable' as const), name, enabled: fc.boolean() }),
      fc.record({ kind: fc.constant('move' as const), name }),
      fc.record({ kind: fc.constant('populate' as const), names: fc.subarray(names), upstream: fc.constantFrom('127.0.0.1:1', '127.0.0.1:2') }),
      fc.record({ kind: fc.constant('reset' as const) }),
      fc.record({ kind: fc.constant('toxic' as const), name }),
    );
    type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;
    const server = await startApi(t);
    let statuses = 0;
    const run = async (o: Op): Promise<number> => {
      switch (o.kind) {
        case 'create':
          return (await call(server, 'POST', '/proxies', { name: o.name, listen: '127.0.0.1:0', upstream: '127.0.0.1:1', enabled: o.enabled })).status;
        case 'delete':
          return (await call(server, 'DELETE', `/proxies/${o.name}`)).status;
        case 'enable':
          return (await call(server, 'PATCH', `/proxies/${o.name}`, { enabled: o.enabled })).status;
        case 'move':
          return (await call(server, 'PATCH', `/proxies/${o.name}`, { listen: '127.0.0.1:0' })).status;
        case 'populate':
          return (await call(server, 'POST', '/populate', o.names.map((n) => ({ name: n, listen: '127.0.0.1:0', upstream: o.upstream })))).status;
        case 'reset':
          return (await call(server, 'POST', '/reset')).status;
        case 'toxic':
          return (await call(server, 'POST', `/proxies/${o.name}/toxics`, { type: 'latency', attributes: { latency: 1 } })).status;
      }
    };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }), async (bursts) => {
        for (const burst of bursts) {
          const got = await Promise.all(burst.map(run));
          for (const s of got) assert.ok([200, 201, 204, 404, 409].includes(s), `unexpected status ${s}`);
          statuses += got.length;
          assert.deepEqual(await proxyListeners(server), await listedPorts(server), `after ${JSON.stringify(burst)}`);
        }
        for (const n of names) await call(server, 'DELETE', `/proxies/${n}`);
        assert.deepEqual(await proxyListeners(server), []);
      }),
      { seed: 20_2016, numRuns: Number(process.env.FAULTLINE_FUZZ_RUNS ?? 40) },
    );
    t.diagnostic(`${statuses} API calls checked`);
  });

  test('`faultline proxy` exits on SIGTERM after racing creates, updates and deletes', async (t) => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const child = spawn(process.execPath, ['bin/faultline', 'proxy', '--port', '0', '--json'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.setEncoding('utf8').on('data', (s: string) => {
        out += s;
        if (out.includes('\n')) resolve((JSON.parse(out.slice(0, out.indexOf('\n'))) as { url: string }).url);
      });
      void exited.then((code) => reject(new Error(`exited early (${code})`)));
    });
    const hit = (method: string, path: string, body?: unknown): Promise<number> =>
      fetch(url + path, { method, body: body === undefined ? undefined : JSON.stringify(body) }).then(async (r) => (await r.text(), r.status));
    await Promise.all(Array.from({ length: 20 }, () => hit('POST', '/proxies', { name: 'same', listen: 'localhost:0', upstream: '127.0.0.1:1' })));
    await Promise.all(['x', 'y', 'z'].map((n) => hit('POST', '/proxies', { name: n, listen: '127.0.0.1:0', upstream: '127.0.0.1:1' })));
    await Promise.all(['x', 'y', 'z'].flatMap((n) => [hit('PATCH', `/proxies/${n}`, { listen: 'localhost:0' }), hit('DELETE', `/proxies/${n}`)]));
    child.kill('SIGTERM');
    const code = await Promise.race([exited, delay(5000, undefined, { ref: false }).then(() => 'still running after 5 s' as const)]);
    assert.equal(code, 0, String(code));
  });
});
