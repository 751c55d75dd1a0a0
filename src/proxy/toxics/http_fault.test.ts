import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'undici';
import { Proxy } from '../proxy.ts';
import { HttpFramer } from './http_fault_framer.ts';

describe('HttpFramer', () => {
  it('frames pipelined requests split at every byte: Content-Length, chunked with trailers, no body', () => {
    const wire = Buffer.from(
      'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
        'POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n' +
        'GET /c HTTP/1.1\r\n\r\n',
    );
    for (const step of [1, 3, 7, wire.length]) {
      const f = new HttpFramer('request');
      const messages: { method?: string; bytes: string }[] = [];
      let cur = '';
      let method: string | undefined;
      for (let i = 0; i < wire.length; i += step) {
        const { segments, invalid } = f.feed(wire.subarray(i, i + step));
        assert.equal(invalid, undefined);
        for (const s of segments) {
          if (s.head) method = s.head.method;
          cur += s.data.toString();
          if (s.end) {
            messages.push({ method, bytes: cur });
            cur = '';
          }
        }
      }
      assert.deepEqual(messages.map((m) => m.method), ['POST', 'POST', 'GET'], `step ${step}`);
      assert.equal(messages.map((m) => m.bytes).join(''), wire.toString());
      assert.ok(f.idle);
    }
  });

  it('responses: no body after HEAD, 204 and 1xx; until close without a length; gives up on non-HTTP', () => {
    let head = true;
    const f = new HttpFramer('response', () => head);
    const a = f.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n'));
    assert.equal(a.segments[0].end, true);
    head = false;
    const b = f.feed(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\nrest'));
    assert.deepEqual(b.segments.map((s) => [s.head?.status, s.head?.interim, s.end]), [[100, true, true], [204, false, true], [200, false, false]]);
    assert.ok(f.untilClose);
    const bad = new HttpFramer('request').feed(Buffer.from('\x16\x03\x01 not http\r\n\r\n'));
    assert.ok(bad.invalid);
  });
});

describe('http_fault toxic over real keep-alive connections', () => {
  let server: Server;
  let proxy: Proxy;
  let pool: Pool;
  const seen: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push(req.url!);
        const body = JSON.stringify({ url: req.url, body: Buffer.concat(chunks).toString() });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    proxy = await Proxy.create({ name: 'web', listen: '127.0.0.1:0', upstream: `127.0.0.1:${(server.address() as AddressInfo).port}` });
    pool = new Pool(`http://127.0.0.1:${proxy.port}`, { connections: 1, pipelining: 1 });
  });
  after(async () => {
    await pool.close();
    proxy.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  async function send(path: string, body?: string): Promise<{ status: number; json: any }> {
    const res = await pool.request({ path, method: body ? 'POST' : 'GET', body, headers: body ? { 'content-type': 'text/plain' } : {} });
    return { status: res.statusCode, json: await res.body.json() };
  }
  async function pair(attributes: Record<string, number>): Promise<void> {
    await proxy.addToxic({ name: 'hf-down', type: 'http_fault', stream: 'downstream', attributes });
    await proxy.addToxic({ name: 'hf-up', type: 'http_fault', stream: 'upstream', attributes });
  }
  async function unpair(): Promise<void> {
    await proxy.removeToxic('hf-up');
    await proxy.removeToxic('hf-down');
  }

  it('http_error: some requests on ONE connection get the status, the others reach the server intact', async () => {
    await send('/warm'); // the pool's one connection exists before the fault
    seen.length = 0;
    await pair({ status: 503, pct: 50, seed: 7 });
    const results = [];
    for (let i = 0; i < 40; i++) results.push(await send(`/r${i}`, i % 3 === 0 ? `body-${i}` : undefined));
    await unpair();
    const failed = results.filter((r) => r.status === 503);
    const ok = results.filter((r) => r.status === 200);
    assert.ok(failed.length > 5 && ok.length > 5, `503: ${failed.length}, 200: ${ok.length}`);
    assert.equal(failed.length + ok.length, 40);
    for (const f of failed) assert.equal(f.json.code, 'FAULTLINE_HTTP_FAULT');
    // Every 200 is the answer to its own request (no response went to the wrong request), bodies intact.
    results.forEach((r, i) => {
      if (r.status === 200) {
        assert.equal(r.json.url, `/r${i}`);
        assert.equal(r.json.body, i % 3 === 0 ? `body-${i}` : '');
      }
    });
    assert.equal(seen.length, ok.length, 'the server saw exactly the requests that were not failed');
    assert.equal(proxy.toJSON().enabled, true);
    const after = await send('/after');
    assert.equal(after.status, 200);
  });

  it('http_error keeps order on a pipelined connection', async () => {
    await pair({ status: 500, pct: 50, seed: 3 });
    // Raw pipelining: 10 requests written at once, answers must come back in request order.
    const sock = connect(proxy.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let wire = '';
    for (let i = 0; i < 10; i++) wire += `GET /p${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
    sock.write(wire);
    let got = '';
    await new Promise<void>((resolve) => {
      sock.on('data', (d) => {
        got += d.toString();
        if ((got.match(/HTTP\/1\.1 /g) ?? []).length === 10 && /\}$/.test(got)) resolve();
      });
    });
    sock.destroy();
    await unpair();
    const answers = got.split(/(?=HTTP\/1\.1 )/).map((r) => ({ status: Number(r.slice(9, 12)), url: /"url":"([^"]+)"/.exec(r)?.[1] }));
    assert.equal(answers.length, 10);
    assert.ok(answers.some((a) => a.status === 500) && answers.some((a) => a.status === 200));
    answers.forEach((a, i) => {
      if (a.status === 200) assert.equal(a.url, `/p${i}`);
    });
  });

  it('http_delay: only the chosen requests on the connection wait delay_ms', async () => {
    await pair({ delay_ms: 150, pct: 50, seed: 11 });
    const times: number[] = [];
    for (let i = 0; i < 16; i++) {
      const t0 = performance.now();
      assert.equal((await send(`/d${i}`)).status, 200);
      times.push(performance.now() - t0);
    }
    await unpair();
    // A chosen request cannot answer in under delay_ms; one that was not chosen may still be slowed by a busy
    // machine now and then, so the unchosen are judged by their median, not one by one.
    const slow = times.filter((t) => t >= 150);
    const fast = times.filter((t) => t < 150).sort((a, b) => a - b);
    const why = `times ${times.map((t) => t.toFixed(0)).join(' ')}`;
    assert.ok(slow.length >= 3 && fast.length >= 3, why);
    assert.ok(fast[fast.length >> 1] < 50, `the requests not chosen waited too: ${why}`);
  });

  it('http_hang: a chosen request never gets an answer; removing the fault closes that connection', async () => {
    await pair({ hang: 1, pct: 100 });
    const hung = pool.request({ path: '/hang', method: 'GET' }).then(
      (r) => r.statusCode,
      (e: Error) => e.message,
    );
    const early = await Promise.race([hung, new Promise((r) => setTimeout(() => r('still waiting'), 200))]);
    assert.equal(early, 'still waiting');
    await unpair();
    const outcome = await hung;
    assert.notEqual(outcome, 200, 'a hung request must not get a real answer');
    assert.equal((await send('/after-hang')).status, 200);
  });
});
