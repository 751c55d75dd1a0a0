import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jsonpath } from './jsonpath.ts';
import { withinTolerance } from './tolerance.ts';
import { ActivityFailed } from './types.ts';

const ctx = { config: { want: 'ok' }, secrets: {} };
const http = (status: number, body: unknown) => ({ status, headers: {}, body });
const proc = (status: number, stdout: string) => ({ status, stdout, stderr: '' });

test('bool, int, str and list follow chaoslib', async () => {
  assert.equal(await withinTolerance(true, true, ctx), true);
  assert.equal(await withinTolerance(true, http(200, ''), ctx), false, 'bool never matches an http dict');
  assert.equal(await withinTolerance(200, http(200, ''), ctx), true);
  assert.equal(await withinTolerance(0, proc(3, ''), ctx), false);
  assert.equal(await withinTolerance(5, 5, ctx), true);
  assert.equal(await withinTolerance('${want}', 'ok', ctx), true);
  assert.equal(await withinTolerance('ok', 'ok ', ctx), false);
  assert.equal(await withinTolerance([200, 201, 202], http(201, ''), ctx), true);
  assert.equal(await withinTolerance([200, 204], http(201, ''), ctx), false, 'with status: membership, not a range');
  assert.equal(await withinTolerance([1, 10], 5, ctx), true, 'two elements: an inclusive range');
  assert.equal(await withinTolerance([1, 10], 10, ctx), true);
  assert.equal(await withinTolerance([1, 2, 3], 5, ctx), false);
});

test('range, regex and jsonpath with targets', async () => {
  assert.equal(await withinTolerance({ type: 'range', range: [0, 0.5] }, 0.2, ctx), true);
  assert.equal(await withinTolerance({ type: 'range', range: [0, 0.5], target: 'stdout' }, proc(0, '0.7\n'), ctx), false);
  assert.equal(await withinTolerance({ type: 'range', range: [0, 1], target: 'stdout' }, proc(0, '0.7\n'), ctx), true);
  assert.equal(await withinTolerance({ type: 'range', range: [0, 1] }, 'n/a', ctx), false, 'not numeric fails');
  assert.equal(await withinTolerance({ type: 'regex', pattern: '^${want}$', target: 'stdout' }, proc(0, 'ok\n'), ctx), true);
  assert.equal(await withinTolerance({ type: 'regex', pattern: 'fail', target: 'stdout' }, proc(0, 'ok\n'), ctx), false);
  const body = JSON.stringify({ items: [{ id: 1, ok: true }, { id: 2, ok: false }] });
  assert.equal(await withinTolerance({ type: 'jsonpath', path: '$.items[*].id', target: 'body' }, http(200, body), ctx), true);
  assert.equal(await withinTolerance({ type: 'jsonpath', path: '$.items[*].id', count: 2, target: 'body' }, http(200, body), ctx), true);
  assert.equal(await withinTolerance({ type: 'jsonpath', path: '$.items[*].id', count: 3, target: 'body' }, http(200, body), ctx), false);
  assert.equal(await withinTolerance({ type: 'jsonpath', path: '$.items[?(@.ok == true)].id', expect: 1, target: 'body' }, http(200, body), ctx), true);
  assert.equal(await withinTolerance({ type: 'jsonpath', path: '$.items[?(@.ok == true)].id', expect: 2, target: 'body' }, http(200, body), ctx), false);
  assert.equal(await withinTolerance({ type: 'jsonpath', path: '$.missing', target: 'body' }, http(200, body), ctx), false);
});

test('probe tolerances: truthy passes, ActivityFailed fails, and the output arrives as arguments.value', async () => {
  const seen: unknown[] = [];
  const t = { type: 'probe', name: 'check', provider: { type: 'python', module: 'm', func: 'f', arguments: {} } };
  const pass = await withinTolerance(t, 42, { ...ctx, runProbe: async (p) => (seen.push((p.provider as unknown as { arguments: { value: unknown } }).arguments.value), true) });
  assert.equal(pass, true);
  assert.deepEqual(seen, [42]);
  assert.equal(await withinTolerance(t, 42, { ...ctx, runProbe: async () => 0 }), false);
  assert.equal(await withinTolerance(t, 42, { ...ctx, runProbe: async () => ({ status: 1 }) }), true, 'a dict is truthy (the CTK gotcha)');
  assert.equal(await withinTolerance(t, 42, { ...ctx, runProbe: async () => { throw new ActivityFailed('x'); } }), false);
});

test('jsonpath subset', () => {
  const doc = { a: { b: [{ c: 1 }, { c: 2 }], d: { c: 3 } } };
  assert.deepEqual(jsonpath('$..c', doc), [1, 2, 3]);
  assert.deepEqual(jsonpath("$['a'].b[-1].c", doc), [2]);
  assert.deepEqual(jsonpath('$.a.b[?(@.c > 1)].c', doc), [2]);
  assert.throws(() => jsonpath('a.b', doc), /starts with \$/);
});
