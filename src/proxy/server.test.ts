/**
 * The HTTP host's error boundary (server.ts): whatever a request does, the process lives and the client gets an
 * answer. Real server on loopback, real sockets; the failing handlers are written for the test.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startProxyServer, type ProxyServer } from './server.ts';

describe('proxy server: the error boundary every request passes', () => {
  let server: ProxyServer;
  const logged: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): void => void unhandled.push(err);

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    server = await startProxyServer({ port: 0, allowedHosts: ['127.0.0.1', 'localhost'], log: (l) => logged.push(l) });
    server.mount(async (req) => {
      if (req.url === '/boom-async') throw new Error('handler rejected');
      return false;
    });
    server.mount(async (req, res) => {
      if (req.url !== '/boom-after-headers') return false;
      res.writeHead(200);
      res.write('partial');
      throw new Error('failed mid-answer');
    });
  });
  after(async () => {
    await server.close();
    process.off('unhandledRejection', onUnhandled);
  });

  it('a rejecting mounted handler answers 500 JSON and is logged; nothing reaches the process as unhandled', async () => {
    const res = await fetch(`${server.url}/boom-async`);
    assert.equal(res.status, 500);
    const body = (await res.json()) as { code: string; error: string };
    assert.equal(body.code, 'FL_INTERNAL');
    assert.match(body.error, /handler rejected/);
    assert.ok(logged.some((l) => /GET \/boom-async failed: Error: handler rejected/.test(l)));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(unhandled, []);
    assert.equal((await fetch(`${server.url}/version`)).status, 200, 'the server still answers');
  });

  it('a handler that fails after its headers went out ends that response only', async () => {
    await assert.rejects(fetch(`${server.url}/boom-after-headers`).then((r) => r.text()));
    assert.equal((await fetch(`${server.url}/version`)).status, 200);
  });

  it('malformed percent-escapes and overlong paths are a 400 on any route, before routing', async () => {
    for (const path of ['/proxies/%E0%A4%A', '/x/%zz', '/%C0%80', `/${'p'.repeat(3000)}`]) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 400, path.slice(0, 30));
      assert.equal(((await res.json()) as { code: string }).code, 'FL_BAD_URL');
    }
  });

  it('a Host that is not allowed is a 403 on every route (DNS rebinding)', async () => {
    const answer = await rawRequest(server.port, 'GET /proxies HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 403/);
    assert.match(answer, /FL_FORBIDDEN_HOST/);
    const ok = await rawRequest(server.port, 'GET /proxies HTTP/1.1\r\nHost: localhost:1234\r\nConnection: close\r\n\r\n');
    assert.match(ok, /^HTTP\/1\.1 200/);
  });

  it('a request Node cannot parse gets a 400, not a reset', async () => {
    const answer = await rawRequest(server.port, 'GET /a b c\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400/);
  });
});

function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(text));
    let data = '';
    socket.on('data', (c) => (data += c.toString('latin1')));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
  });
}
