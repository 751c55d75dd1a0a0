/**
 * Outcome classes against real loopback servers: a 401 on every request is an error (not "errors 0"), `expect:`
 * changes what counts as ok, a refused connection is `refused`, and per-request records carry intended start and
 * outcome for every arrival.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { runLoad } from './run.ts';
import type { RequestRecord } from './samples.ts';
import { answer, startServer } from './testing.ts';

test('a 401 on every request is an error unless the endpoint expects it', async () => {
  const srv = await startServer(answer(401, 'no token'));
  try {
    const records: RequestRecord[] = [];
    const s = await runLoad({
      target: srv.url,
      seed: 3,
      schedule: { executor: 'constant', rate_rps: 50, duration_ms: 1000 },
      mix: {
        endpoints: [
          { name: 'plain', weight: 1, path: '/a' },
          { name: 'auth_probe', weight: 1, path: '/b', expect: [401, '200-299'] },
        ],
      },
      max_lag_ms: 1000,
      on_request: (r) => records.push(r),
    }).result;
    const plain = s.endpoints.plain;
    const probe = s.endpoints.auth_probe;
    assert.ok(plain.completed > 10 && probe.completed > 10);
    assert.equal(plain.outcomes.http_4xx, plain.completed, JSON.stringify(plain.outcomes));
    assert.equal(plain.errors.status, plain.completed);
    assert.equal(probe.outcomes.ok, probe.completed);
    assert.equal(probe.errors.status, 0);
    // Every arrival has a record: intended start before completion, the outcome the aggregate counted.
    assert.equal(records.length, s.total.offered);
    for (const r of records) assert.ok(r.done_ms >= r.intended_ms && r.status === 401);
    assert.equal(records.filter((r) => r.outcome === 'http_4xx').length, plain.completed);
  } finally {
    await srv.close();
  }
});

test('nobody listening: refused, with a record per request', async () => {
  // A port that was free a moment ago and has nobody on it now.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const records: RequestRecord[] = [];
  const s = await runLoad({
    target: `http://127.0.0.1:${port}`,
    seed: 4,
    schedule: { executor: 'constant', rate_rps: 20, duration_ms: 500 },
    max_lag_ms: 1000,
    on_request: (r) => records.push(r),
  }).result;
  assert.equal(s.total.outcomes.refused, s.total.offered, JSON.stringify(s.total.outcomes));
  assert.equal(s.total.errors.connection, s.total.offered);
  assert.equal(records.length, s.total.offered);
  assert.ok(records.every((r) => r.outcome === 'refused'));
});
