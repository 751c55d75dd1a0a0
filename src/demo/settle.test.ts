/**
 * settle() against real loopback HTTP servers: one that is overloaded for its first 2.5 s and then answers at once
 * (settled, after more than one probe), and one that never recovers (not settled, within the patience).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { settle } from './settle.ts';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections(), s.close();
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a system still draining its queue: probes until it holds the SLO again', async () => {
  const slowUntil = Date.now() + 2_500;
  const target = await serve((_req, res) => {
    const late = Date.now() < slowUntil;
    setTimeout(() => res.end('ok'), late ? 400 : 0);
  });
  let seed = 1;
  const r = await settle({ target, slo: 'p99<250ms,errors<1%', seed: () => seed++, probe_s: 1, max_wait_s: 20 });
  assert.equal(r.settled, true, r.last);
  assert.ok(r.probes >= 2, `settled on probe ${r.probes}: the slow start was not seen`);
  assert.ok(r.waited_s >= 2, `waited ${r.waited_s} s`);
  assert.match(r.last, /^20\/20 answered, p99 \d+ ms, errors 0\.0 %$/);
});

test('a system that never recovers: gives up after the patience, and says what the last probe saw', async () => {
  const target = await serve((_req, res) => {
    res.statusCode = 503;
    res.end('busy');
  });
  let seed = 100;
  const t0 = Date.now();
  const r = await settle({ target, slo: 'p99<250ms,errors<1%', seed: () => seed++, probe_s: 1, max_wait_s: 4 });
  assert.equal(r.settled, false);
  assert.ok(Date.now() - t0 < 8_000, 'the patience was not kept');
  assert.ok(r.probes >= 2);
  assert.match(r.last, /errors 100\.0 %/);
});

test('a probe is judged endpoint by endpoint, as the ramp judges a step: a rare slow endpoint keeps it unsettled', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fl-settle-'));
  try {
    // 1 request in 200 goes to /slow (300 ms): the all-request p99 is fast, the slow endpoint's own p99 is not.
    const mix = join(dir, 'mix.yaml');
    writeFileSync(mix, 'name: two\nendpoints:\n  - { name: fast, weight: 199, method: GET, path: /fast }\n  - { name: slow, weight: 1, method: GET, path: /slow }\n');
    const target = await serve((req, res) => setTimeout(() => res.end('ok'), req.url === '/slow' ? 300 : 0));
    let seed = 7;
    const r = await settle({ target, mixFile: mix, slo: 'p99<250ms,errors<1%', seed: () => seed++, rate_rps: 400, probe_s: 1, max_wait_s: 2 });
    assert.equal(r.settled, false, r.last);
    assert.match(r.last, /^400\/400 answered, p99 \d+ ms, errors 0\.0 % \(slow p99 3\d\d(\.\d+)?ms ≥ 250ms\)$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
