/**
 * One view of what is in effect on the controller's port: a toxic a toxiproxy client adds through the toxiproxy
 * API there (no journal, no fault record) is listed by GET /chaos/faults and removed by halt, and traffic through
 * the proxy shows it gone. Real proxy server, real chaos API on the same port, real sockets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startProxyServer } from '../proxy/server.ts';
import { createChaosApi } from './api.ts';
import { Controller } from './controller.ts';
import { unjournaledToxics } from './unjournaled.ts';

test('a toxic added through the toxiproxy API on the controller port is listed with the faults and halted with them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-unjournaled-'));
  const upstream: Server = createServer((_req, res) => res.end('ok')).listen(0, '127.0.0.1');
  await new Promise((r) => upstream.once('listening', r));
  const server = await startProxyServer({ port: 0 });
  const controller = await Controller.open({ stateDir: join(dir, 'state'), targets: [{ name: 'app', proxy: { api: server.url, name: 'app' } }] });
  server.mount(createChaosApi(controller, { token: 't', unjournaled: unjournaledToxics(server.registry) }));
  try {
    const proxy = await server.createProxy({ name: 'app', upstream: `127.0.0.1:${(upstream.address() as AddressInfo).port}` });
    const through = `http://${proxy.listen}/`;
    // What toxiproxy-cli does: a latency toxic through the toxiproxy API, on the controller's own port.
    const added = await fetch(`${server.url}/proxies/app/toxics`, { method: 'POST', body: JSON.stringify({ type: 'latency', attributes: { latency: 400 } }) });
    assert.equal(added.status, 200);
    const timed = async (): Promise<number> => {
      const t0 = performance.now();
      await (await fetch(through)).text();
      return performance.now() - t0;
    };
    assert.ok((await timed()) >= 400);
    const auth = { authorization: 'Bearer t' };
    const listed = (await (await fetch(`${server.url}/chaos/faults`, { headers: auth })).json()) as { faults: unknown[]; unjournaled: { proxy: string; name: string; type: string }[] };
    assert.deepEqual(listed.faults, []);
    assert.deepEqual(listed.unjournaled.map((t) => [t.proxy, t.name, t.type]), [['app', 'latency_downstream', 'latency']]);
    const halted = (await (await fetch(`${server.url}/chaos/faults`, { method: 'DELETE', headers: auth })).json()) as { unjournaled_removed: { name: string }[] };
    assert.deepEqual(halted.unjournaled_removed.map((t) => t.name), ['latency_downstream']);
    assert.equal(server.registry.get('app').toxics.list().length, 0);
    assert.ok((await timed()) < 300, 'the toxic is gone from the traffic too');
  } finally {
    controller.close();
    await server.close();
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
