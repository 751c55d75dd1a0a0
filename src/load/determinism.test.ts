/**
 * Same seed ⇒ same schedule and the same request bytes, planned and on the wire; another seed differs.
 * Also the pure pieces under it: rate-plan math, arrival counts, the mix schema's error reports.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Schedule } from './arrivals.ts';
import { breakpointSteps } from './executors/breakpoint.ts';
import { compileMix, RequestFactory, requestText } from './mix.ts';
import { RateProfile } from './profile.ts';
import { planRequests, runLoad, type LoadOptions } from './run.ts';
import { startServer, answer, type Received } from './testing.ts';
import { FaultlineError } from '../core/errors.ts';

const MIX = 'experiments/mixes/lab-default.yaml';
const opts = (seed: number, arrivals: 'uniform' | 'poisson' = 'uniform'): LoadOptions => ({
  target: 'http://127.0.0.1:9',
  seed,
  arrivals,
  mixFile: MIX,
  schedule: { executor: 'ramping', start_rps: 50, stages: [{ duration_ms: 2000, target_rps: 400 }] },
});
const plan = (o: LoadOptions): string[] =>
  [...planRequests(o)].map((p) => `${p.due_ms}\n${requestText(p.request)}`);

test('same seed: identical schedule and request bytes; another seed: different', () => {
  for (const kind of ['uniform', 'poisson'] as const) {
    const a = plan(opts(42, kind));
    const b = plan(opts(42, kind));
    assert.ok(a.length > 400);
    assert.deepEqual(a, b);
    assert.notDeepEqual(plan(opts(43, kind)), a);
  }
  // The lab mix: ~80/20 split, unique idempotency keys, JSON bodies with typed fields.
  const reqs = [...planRequests({ ...opts(7), schedule: { executor: 'constant', rate_rps: 5000, duration_ms: 1000 } })];
  const posts = reqs.filter((r) => r.request.method === 'POST');
  assert.ok(Math.abs(posts.length / reqs.length - 0.2) < 0.03, `POST share ${posts.length / reqs.length}`);
  const keys = posts.map((r) => (JSON.parse(r.request.body!) as { idempotency_key: string }).idempotency_key);
  assert.equal(new Set(keys).size, keys.length);
  const body = JSON.parse(posts[0].request.body!) as Record<string, unknown>;
  assert.equal(typeof body.customer_id, 'number');
  assert.equal(typeof body.amount_cents, 'number');
  for (const r of reqs.filter((x) => x.request.method === 'GET')) {
    const id = Number(/^\/orders\/(\d+)$/.exec(r.request.path)![1]);
    assert.ok(id >= 1 && id <= 10_000);
  }
});

test('same seed on the wire: two real runs deliver the same requests, byte for byte', async () => {
  const srv = await startServer(answer());
  const wire = (r: Received): string =>
    `${r.method} ${r.url}\n${r.headers.authorization}\n${r.headers['content-type'] ?? ''}\n${r.body}`;
  try {
    const runs: string[][] = [];
    for (const seed of [11, 11, 12]) {
      srv.received.length = 0;
      await runLoad({ target: srv.url, seed, mixFile: MIX, schedule: { executor: 'constant', rate_rps: 300, duration_ms: 700 }, max_lag_ms: 1000 }).result;
      // Arrival order across connections may interleave; the multiset of requests must not change.
      runs.push(srv.received.map(wire).sort());
    }
    assert.equal(runs[0].length, 210);
    assert.deepEqual(runs[0], runs[1]);
    assert.notDeepEqual(runs[0], runs[2]);
    const planned = [...planRequests({ target: srv.url, seed: 11, mixFile: MIX, schedule: { executor: 'constant', rate_rps: 300, duration_ms: 700 } })]
      .map((p) => `${p.request.method} ${p.request.path}\nBearer lab-dev-token\n${p.request.body ? 'application/json' : ''}\n${p.request.body ?? ''}`)
      .sort();
    assert.deepEqual(runs[0], planned);
  } finally {
    await srv.close();
  }
});

test('rate plans: counts and inverse agree for flat, ramped and stepped segments', () => {
  const p = RateProfile.of([
    { duration_ms: 1000, from_rps: 0, to_rps: 100 },
    { duration_ms: 2000, from_rps: 100, to_rps: 100 },
    { duration_ms: 1000, from_rps: 100, to_rps: 0 },
  ]);
  assert.equal(p.expected, 50 + 200 + 50);
  assert.equal(p.count(1000), 50);
  let n = 0;
  const s = new Schedule(p, 'uniform', 1);
  let last = -1;
  for (let a = s.next(); a; a = s.next()) {
    assert.ok(a.due_ms >= last);
    last = a.due_ms;
    n++;
  }
  assert.equal(n, 300);
  // Poisson follows the same plan: the count is near the expectation (±5σ).
  let m = 0;
  const ps = new Schedule(RateProfile.of([{ duration_ms: 10_000, from_rps: 1000, to_rps: 1000 }]), 'poisson', 9);
  while (ps.next()) m++;
  assert.ok(Math.abs(m - 10_000) < 500, `poisson count ${m}`);
  assert.deepEqual(breakpointSteps({ start_rps: 100, step_rps: 100, max_rps: 250 }), [100, 200, 250]);
  // ×1.5 a step, never less than step_rps more, rounded to whole req/s, capped at max.
  assert.deepEqual(breakpointSteps({ start_rps: 50, step_rps: 50, step_factor: 1.5, max_rps: 600 }), [50, 100, 150, 225, 338, 507, 600]);
  assert.deepEqual(breakpointSteps({ start_rps: 50, step_rps: 50, step_factor: 1, max_rps: 160 }), [50, 100, 150, 160], 'factor 1: linear');
});

test('a bad mix reports every problem with its path', () => {
  const err = (() => {
    try {
      compileMix({
        vars: { id: { type: 'int', min: 10, max: 1 }, k: { type: 'nope' } },
        endpoints: [
          { name: 'a', weight: -1, path: '/x/{id}' },
          { name: 'a', weight: 1, method: 'FETCH', path: '/y/{missing}' },
          { name: 'c', weight: 1, path: 'no-slash', extra: true },
        ],
      });
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof FaultlineError);
  assert.equal(err.code, 'INVALID_INPUT');
  for (const part of [
    'endpoints[0].weight',
    'endpoints[1].method',
    'endpoints[1].path: unknown variable {missing}',
    'endpoints[1].name: duplicate',
    'endpoints[2].path',
    'Unrecognized key: "extra"',
    'vars.k.type',
    'vars.id: min (10) must be ≤ max (1)',
  ]) {
    assert.ok(err.message.includes(part), `missing "${part}" in: ${err.message}`);
  }
  assert.match(err.field ?? '', /^mix\./);
  // Templates render typed JSON and URL-encode path values.
  const f = new RequestFactory(
    compileMix({
      vars: { q: { type: 'pick', values: ['a b'] }, n: { type: 'int', min: 5, max: 5 } },
      endpoints: [{ name: 'e', weight: 1, method: 'POST', path: '/s/{q}', body: { json: { n: '{n}', label: 'x{q}' } } }],
    }),
    1,
    '/api',
  );
  const r = f.build(0);
  assert.equal(r.path, '/api/s/a%20b');
  assert.equal(r.body, '{"n":5,"label":"xa b"}');
});
