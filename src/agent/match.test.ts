import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileCallMatch, compileHost, compilePath, compileRouteMatch, pathOf, pathShape, roll, statementPattern, statementShape } from './match.ts';
import { signCommand, verifyCommand, type Command } from './protocol.ts';
import { RuleTable } from './rules.ts';

test('path patterns: :name and * match one segment, ** the rest, the rest is literal', () => {
  const p = compilePath('/orders/:id');
  assert.ok(p.test('/orders/42') && p.test('/orders/42/'));
  assert.ok(!p.test('/orders') && !p.test('/orders/42/items') && !p.test('/ordersx/42'));
  const any = compilePath('/admin/**');
  assert.ok(any.test('/admin') && any.test('/admin/a/b/c') && !any.test('/administrator'));
  assert.ok(compilePath('/a.b').test('/a.b') && !compilePath('/a.b').test('/aXb'));
  assert.ok(compilePath('/').test('/') && !compilePath('/').test('/x'));
  assert.equal(pathOf('/p/1?x=2#f'), '/p/1');
});

test('route match: method, path and every header must match; header names are case-insensitive, values may be a list', () => {
  const m = compileRouteMatch({ method: ['get'], path: '/products/:id', headers: { 'X-Customer': ['42', '43'] } });
  assert.ok(m({ method: 'GET', path: '/products/7', headers: { 'x-customer': '42' } }));
  assert.ok(m({ method: 'GET', path: '/products/7', headers: { 'x-customer': ' 43 ' } }));
  assert.ok(!m({ method: 'GET', path: '/products/7', headers: { 'x-customer': '7' } }));
  assert.ok(!m({ method: 'GET', path: '/products/7', headers: {} }));
  assert.ok(!m({ method: 'POST', path: '/products/7', headers: { 'x-customer': '42' } }));
  assert.ok(compileRouteMatch({})({ method: 'PUT', path: '/', headers: {} }), 'an empty match takes every request');
});

test('call match: library, host[:port], method, path, statement, command', () => {
  assert.ok(compileHost('127.0.0.1:5432')('127.0.0.1', 5432) && !compileHost('127.0.0.1:5432')('127.0.0.1', 5433));
  assert.ok(compileHost('*:6379')('db.local', 6379) && compileHost('DB.local')('db.local', 1));
  assert.ok(compileHost('[::1]:80')('::1', 80));
  const pg = compileCallMatch({ library: ['pg'], statement: '^select .* from products' });
  assert.ok(pg({ library: 'pg', host: 'h', port: 1, statement: 'SELECT id FROM products WHERE id = $1' }));
  assert.ok(!pg({ library: 'pg', host: 'h', port: 1, statement: 'INSERT INTO orders VALUES ($1)' }));
  assert.ok(!pg({ library: 'ioredis', host: 'h', port: 1, command: 'GET' }));
  const redis = compileCallMatch({ command: ['get', 'MGET'] });
  assert.ok(redis({ library: 'ioredis', host: 'h', port: 1, command: 'GET' }) && !redis({ library: 'ioredis', host: 'h', port: 1, command: 'SET' }));
  assert.ok(!redis({ library: 'fetch', host: 'h', port: 1, method: 'GET' }), 'a command match never takes a call without a command');
  const http = compileCallMatch({ method: ['POST'], path: '/quote' });
  assert.ok(http({ library: 'fetch', host: 'h', port: 1, method: 'POST', path: '/quote' }) && !http({ library: 'fetch', host: 'h', port: 1, method: 'GET', path: '/quote' }));
});

test('roll: 0 never and 100 always without drawing; otherwise pct of draws', () => {
  const never = (): number => assert.fail('drew a number');
  assert.equal(roll(0, never), false);
  assert.equal(roll(100, never), true);
  let i = 0;
  const seq = (): number => (i++ % 100) / 100;
  let hits = 0;
  for (let n = 0; n < 1000; n++) if (roll(25, seq)) hits++;
  assert.equal(hits, 250);
});

test('shapes: ids fold into :id, literals into ?, and a statement pattern matches its own statements', () => {
  assert.equal(pathShape('/orders/42/items/7'), '/orders/:id/items/:id');
  assert.equal(pathShape('/users/3f2a9c1e-8d7b-4c1a-9e0f-1a2b3c4d5e6f'), '/users/:id');
  assert.equal(pathShape('/healthz'), '/healthz');
  const shape = statementShape("SELECT *\n  FROM t WHERE a = 'x''y' AND b = 12 AND c = $1");
  assert.equal(shape, 'SELECT * FROM t WHERE a = ? AND b = ? AND c = $1');
  const re = new RegExp(statementPattern(shape), 'i');
  assert.ok(re.test("SELECT * FROM t WHERE a = 'z' AND b = 99 AND c = $1"));
  assert.ok(!re.test('SELECT * FROM u WHERE a = 1'));
});

test('commands: signed with the token verify; a wrong token, a changed rule or no signature do not', () => {
  const c: Command = { cmd_id: 'c1', op: 'arm', rule: { id: 'r', ttl_s: 5, type: 'call_error', match: { library: ['pg'] }, pct: 100 } };
  const signed = signCommand(c, 'secret');
  assert.ok(verifyCommand(JSON.parse(JSON.stringify(signed)), 'secret'));
  assert.ok(!verifyCommand(signed, 'other'));
  assert.ok(!verifyCommand({ ...signed, rule: { ...c.rule, pct: 50 } } as typeof signed, 'secret'));
  assert.ok(!verifyCommand({ ...c, sig: '' }, 'secret'));
});

test('rule table: error rules win, latencies of firing rules add up, and a rule ends at its TTL by itself', async () => {
  const t = new RuleTable(() => 0.5);
  t.arm({ id: 'slow', ttl_s: 0.2, type: 'call_latency', match: { library: ['pg'] }, pct: 100, delay_ms: 100, jitter_ms: 0 });
  t.arm({ id: 'slower', ttl_s: 60, type: 'call_latency', match: {}, pct: 100, delay_ms: 50, jitter_ms: 0 });
  assert.equal(t.call({ library: 'pg', host: 'h', port: 1, statement: 'x' })?.delayMs, 150);
  t.arm({ id: 'fail', ttl_s: 60, type: 'call_error', match: { library: ['pg'] }, pct: 100, code: '40001' });
  assert.equal(t.call({ library: 'pg', host: 'h', port: 1, statement: 'x' })?.error?.code, '40001');
  assert.equal(t.call({ library: 'pg', host: 'h', port: 1, statement: 'x' })?.rule.id, 'fail');
  assert.ok(t.disarm('fail') && !t.disarm('fail'));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(t.ids(), ['slower'], 'the 0.2 s rule is gone by itself');
  assert.equal(t.call({ library: 'pg', host: 'h', port: 1, statement: 'x' })?.delayMs, 50);
  t.disarmAll();
  assert.equal(t.calls.length, 0);
  assert.equal(t.fired.slow, 1);
});
