/**
 * The warm-up against real loopback servers: it opens the target's first connections before t0 and sends the
 * target nothing (every request the target sees is a planned one, counted once); the summary reports it; it can be
 * turned off; a target nobody listens on gets no pre-opened connection and the run still reports what happened.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { preconnect } from './client.ts';
import { runLoad } from './run.ts';
import type { RequestRecord } from './samples.ts';
import { answer, startServer } from './testing.ts';
import { warmConnections } from './warmup.ts';

const MIX = 'experiments/mixes/lab-default.yaml';

test('warm-up: connections opened before the first request, nothing sent to the target, nothing counted', async () => {
  const srv = await startServer(answer());
  try {
    const s = await runLoad({
      target: srv.url,
      seed: 21,
      mixFile: MIX,
      schedule: { executor: 'constant', rate_rps: 400, duration_ms: 500 },
      max_lag_ms: 1000,
      warmup: { connections: 3 },
    }).result;
    assert.ok(s.warmup, 'the summary reports the warm-up');
    assert.equal(s.warmup.connections_opened, 3);
    assert.equal(s.warmup.target_requests, 0);
    assert.ok(s.warmup.rehearsal_requests > 0, 'the hot path was rehearsed');
    // The target saw exactly the planned requests, and the results count each once: the rehearsal is elsewhere.
    assert.equal(srv.received.length, 200);
    assert.equal(s.total.offered, 200);
    assert.equal(s.total.completed, 200);
    assert.equal(s.total.outcomes.ok, 200);
    // The three pre-opened connections were accepted before any request arrived on any connection.
    assert.ok(srv.connections.length >= 3);
    for (const at of srv.connections.slice(0, 3)) assert.ok(at < srv.received[0].at);
  } finally {
    await srv.close();
  }
});

test('warm-up off: no rehearsal, no pre-opened connection, summary says null', async () => {
  const srv = await startServer(answer());
  try {
    const s = await runLoad({
      target: srv.url,
      seed: 22,
      schedule: { executor: 'constant', rate_rps: 100, duration_ms: 300 },
      max_lag_ms: 1000,
      warmup: false,
    }).result;
    assert.equal(s.warmup, null);
    assert.equal(s.total.completed, 30);
    // Without pre-opening, the first connection is only made for the first request.
    assert.ok(srv.connections.length >= 1);
  } finally {
    await srv.close();
  }
});

test('preconnect: none to a port nobody listens on, and none for https', async () => {
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  assert.deepEqual(await preconnect(`http://127.0.0.1:${port}`, 4, 1000), []);
  assert.deepEqual(await preconnect('https://127.0.0.1:1', 4, 1000), []);
  const s = await runLoad({ target: `http://127.0.0.1:${port}`, seed: 5, schedule: { executor: 'constant', rate_rps: 20, duration_ms: 200 }, max_lag_ms: 1000 }).result;
  assert.equal(s.warmup?.connections_opened, 0);
  assert.equal(s.total.outcomes.refused, s.total.offered);
});

test('warm connections: 1 per 100 req/s of the peak, at least 2, at most the pool', () => {
  assert.equal(warmConnections(50, 128), 2);
  assert.equal(warmConnections(1000, 128), 10);
  assert.equal(warmConnections(50_000, 128), 128);
  assert.equal(warmConnections(50, 1), 1);
});

test('started: the schedule t0 (after the warm-up) is announced, and the first arrival is due exactly then', async () => {
  const srv = await startServer(answer());
  try {
    const before = Date.now();
    const records: RequestRecord[] = [];
    const run = runLoad({
      target: srv.url,
      seed: 23,
      schedule: { executor: 'constant', rate_rps: 50, duration_ms: 200 },
      max_lag_ms: 1000,
      on_request: (r) => records.push(r),
    });
    const t0 = await run.started;
    const s = await run.result;
    assert.ok(s.warmup && t0 >= before);
    assert.equal(Math.min(...records.map((r) => r.intended_ms)), t0);
    assert.equal(new Date(s.started_at).getTime() <= t0 + 1, true);
  } finally {
    await srv.close();
  }
});
