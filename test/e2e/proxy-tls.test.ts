/**
 * TLS on a proxy (faultline extension): a proxy created over the HTTP API with `"tls": {}` terminates TLS with a
 * certificate minted from the server's local CA (real openssl), an HTTPS client that trusts only that CA talks
 * through it, and the real `http_error` fault kind (src/faults/kinds/http) injects HTTP errors into the decrypted
 * stream. Every request shares one keep-alive TLS connection: the injected 503s and the real 200s arrive on the
 * same socket, whose handshake stays verified. A second proxy takes a given cert/key and originates TLS to an
 * HTTPS upstream. Everything is real loopback sockets in this process; nothing is mocked.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { Agent, createServer as createHttpsServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { TLSSocket } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { httpError } from '../../src/faults/kinds/http/http_error.ts';
import { ensureCa } from '../../src/proxy/ca.ts';
import { startProxyServer, type ProxyServer } from '../../src/proxy/server.ts';

interface Answer {
  status: number;
  body: string;
  socket: TLSSocket;
}

/** One GET over `agent` to https://localhost:port/path; resolves with the status, the body and the socket used. */
function get(agent: Agent, port: number, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: 'localhost', port, path, agent, timeout: 5000 }, (res) => {
      // Taken now: a keep-alive agent detaches the socket from the response once it ends.
      const socket = res.socket as TLSSocket;
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, socket }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

describe('TLS proxy (faultline extension)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-tls-'));
  const caDir = join(dir, 'ca');
  let server: ProxyServer;
  let upstream: Server;
  let upstreamPort: number;
  /** Requests the upstream really served, by path. */
  const served: string[] = [];

  before(async () => {
    upstream = createHttpServer({ keepAlive: true }, (req: IncomingMessage, res) => {
      served.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`real ${req.url}`);
    });
    upstreamPort = await listen(upstream);
    server = await startProxyServer({ port: 0, caDir });
  });

  after(async () => {
    await server.close();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('terminates TLS with a minted certificate; http_error fails some requests on one intact TLS connection', async () => {
    const created = await fetch(`${server.url}/proxies`, {
      method: 'POST',
      body: JSON.stringify({ name: 'web', listen: '127.0.0.1:0', upstream: `127.0.0.1:${upstreamPort}`, tls: {} }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const shown = (await created.json()) as { listen: string; tls: { hosts: string[]; ca: string } };
    const port = Number(shown.listen.split(':').at(-1));
    const ca = await ensureCa(caDir);
    assert.equal(shown.tls.ca, ca.certPath, 'the API shows which CA to trust');
    assert.ok(shown.tls.hosts.includes('localhost') && shown.tls.hosts.includes('127.0.0.1'), JSON.stringify(shown.tls));

    // Trusts the minted CA only (not the system's roots), one keep-alive connection for every request.
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(ca.certPath) });
    try {
      const first = await get(agent, port, '/before');
      assert.equal(first.status, 200);
      assert.equal(first.body, 'real /before');
      assert.ok(first.socket.authorized, 'the client verified the proxy against the minted CA');
      assert.equal(first.socket.getPeerCertificate().issuer.CN, 'faultline local CA');

      const target = { name: 'web', proxy: { api: server.url, name: 'web' } };
      const params = httpError.params.parse({ status: 503, pct: 50, seed: 7 });
      const ctx = { id: 'tls-1', ttl_s: 60 };
      const handle = httpError.plan(target, params, ctx);
      await httpError.apply(handle, params, ctx);
      assert.equal(await httpError.verify(handle), true);

      served.length = 0;
      const answers: Answer[] = [];
      for (let i = 0; i < 12; i++) answers.push(await get(agent, port, `/during-${i}`));
      const failed = answers.filter((a) => a.status === 503);
      const passed = answers.filter((a) => a.status === 200);
      assert.equal(failed.length + passed.length, answers.length, answers.map((a) => a.status).join(' '));
      assert.ok(failed.length > 0 && passed.length > 0, `pct 50 should fail some and pass some: ${answers.map((a) => a.status).join(' ')}`);
      assert.ok(failed.every((a) => a.body.includes('injected HTTP 503')), failed[0]?.body);
      // The upstream saw exactly the requests that were not failed, in order: the proxy answered the others.
      assert.deepEqual(served, passed.map((a) => a.body.replace('real ', '')));
      // Every answer, injected or real, came over the first TLS connection, still verified and open.
      for (const a of answers) assert.equal(a.socket, first.socket, 'one TLS connection for every request');
      assert.ok(!first.socket.destroyed && first.socket.authorized);

      await httpError.revert(handle);
      assert.equal(await httpError.verify(handle), false);
      const afterRevert = await get(agent, port, '/after');
      assert.equal(afterRevert.status, 200);
      assert.equal(afterRevert.socket, first.socket, 'the connection outlived the fault');
    } finally {
      agent.destroy();
    }
  });

  it('takes a given cert and key, and originates TLS to an HTTPS upstream it verifies', async () => {
    const ca = await ensureCa(caDir);
    const leaf = await ca.mint(['localhost', '127.0.0.1']);
    const certFile = join(dir, 'leaf.pem');
    const keyFile = join(dir, 'leaf-key.pem');
    writeFileSync(certFile, leaf.cert);
    writeFileSync(keyFile, leaf.key);
    const secure = createHttpsServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
      res.end(`secure upstream, encrypted=${(req.socket as TLSSocket).encrypted === true}`);
    });
    const securePort = await listen(secure);
    const agent = new Agent({ keepAlive: false, ca: readFileSync(ca.certPath) });
    try {
      const proxy = await server.createProxy({
        name: 'secure',
        upstream: `localhost:${securePort}`,
        tls: { cert: certFile, key: keyFile },
        upstream_tls: { ca: ca.certPath },
      });
      assert.deepEqual(proxy.toJSON().upstream_tls, { verify: true, servername: 'localhost', ca: ca.certPath });
      const answer = await get(agent, proxy.port, '/');
      assert.equal(answer.status, 200);
      assert.equal(answer.body, 'secure upstream, encrypted=true');
    } finally {
      agent.destroy();
      secure.closeAllConnections();
      await new Promise<void>((resolve) => secure.close(() => resolve()));
    }
  });

  it('refuses bad TLS declarations with 400 naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ cert: join(dir, 'leaf.pem') }, 'tls.key'],
      [{ certificate: 'x.pem' }, 'tls.certificate'],
      [{ cert: join(dir, 'missing.pem'), key: join(dir, 'missing.pem') }, 'tls.cert'],
      [{ hosts: ['bad host'] }, 'tls.hosts[0]'],
    ];
    for (const [tls, field] of cases) {
      const res = await fetch(`${server.url}/proxies`, {
        method: 'POST',
        body: JSON.stringify({ name: 'bad', listen: '127.0.0.1:0', upstream: '127.0.0.1:1', tls }),
      });
      const body = (await res.json()) as { field?: string; error: string };
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(body.field, field, body.error);
    }
    const noCa = await startProxyServer({ port: 0 });
    try {
      const res = await fetch(`${noCa.url}/proxies`, {
        method: 'POST',
        body: JSON.stringify({ name: 'x', listen: '127.0.0.1:0', upstream: '127.0.0.1:1', tls: {} }),
      });
      assert.equal(res.status, 400);
      assert.match(((await res.json()) as { error: string }).error, /no local CA/);
    } finally {
      await noCa.close();
    }
  });

  it('`faultline proxy ca` creates the CA once, then shows the same one', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const cliDir = join(dir, 'cli-ca');
    // Asynchronous, so the proxy server of this suite keeps serving meanwhile.
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/faultline', 'proxy', 'ca', '--dir', cliDir, '--json'], { cwd: root });
    const first = JSON.parse(stdout) as { cert: string; dir: string; created: boolean };
    assert.deepEqual(first, { cert: join(cliDir, 'ca.pem'), dir: cliDir, created: true });
    const pem = readFileSync(first.cert, 'utf8');
    assert.match(pem, /^-----BEGIN CERTIFICATE-----/);
    // The second look goes through the library the command uses (one CLI start is enough for the suite's time).
    const again = await ensureCa(cliDir);
    assert.equal(again.created, false);
    assert.equal(readFileSync(again.certPath, 'utf8'), pem, 'the CA is kept, not re-minted');
  });
});
