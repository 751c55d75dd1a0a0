import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { test } from 'node:test';
import { applyMitigations } from './mitigations.ts';

/** A stand-in lab service: with a switch (keeps what it is sent) or without one (404). */
async function service(withSwitch: boolean): Promise<{ url: string; server: Server; state: { current: unknown; posts: unknown[] } }> {
  const state = { current: { preset: 'none' } as unknown, posts: [] as unknown[] };
  const server = createServer((req, res) => {
    if (!withSwitch || req.url !== '/__lab/mitigations') {
      res.writeHead(404).end('{}');
      return;
    }
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state.current));
      return;
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      state.current = JSON.parse(body);
      state.posts.push(state.current);
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/__lab/mitigations`, server, state };
}

test('applies the block where the lab has a switch, says where it has none, and restores afterwards', async () => {
  const a = await service(true);
  const b = await service(false);
  try {
    const m = await applyMitigations({ orders: a.url, payments: b.url }, { preset: 'all' });
    assert.deepEqual(a.state.current, { preset: 'all' });
    assert.match(m.applied, /applied on orders/);
    assert.match(m.applied, /not applied on payments \(no mitigation switch\)/);
    await m.restore();
    assert.deepEqual(a.state.current, { preset: 'none' });
    const none = await applyMitigations({ orders: a.url }, {});
    assert.match(none.applied, /none requested/);
    assert.equal(a.state.posts.length, 2);
  } finally {
    a.server.close();
    b.server.close();
  }
});
