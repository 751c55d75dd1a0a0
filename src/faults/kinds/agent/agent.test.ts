import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FAULT_TYPES } from '../../registry.ts';
import { AGENT } from './index.ts';

const parse = (type: string, params: unknown) => AGENT.find((i) => i.type === type)!.params.safeParse(params);

test('every agent type is registered, and the in-code exception hooks it replaced are gone', () => {
  for (const t of ['route_exception', 'call_latency', 'call_error', 'event_loop_block', 'heap_growth']) assert.ok(FAULT_TYPES.has(t), t);
  assert.equal(FAULT_TYPES.has('exception'), false);
});

test('call_error: the code must be one every library the match reaches can raise', () => {
  assert.ok(parse('call_error', { library: 'pg', code: '40001' }).success);
  assert.ok(parse('call_error', { library: 'ioredis', command: 'get', code: 'READONLY' }).success);
  assert.ok(parse('call_error', { code: 'ECONNRESET' }).success, 'ECONNRESET is a failure of every client');
  const bad = parse('call_error', { library: ['fetch', 'pg'], code: '40001' });
  assert.ok(!bad.success);
  assert.match(JSON.stringify(bad.error.issues), /40001 is not an error fetch can raise/);
  assert.ok(!parse('call_error', { statement: '(' }).success, 'a statement must be a valid regular expression');
});

test('schemas: defaults, units and bounds', () => {
  const lat = parse('call_latency', { library: 'pg', delay_ms: 100 });
  assert.ok(lat.success && (lat.data as { pct: number; jitter_ms: number }).pct === 100 && (lat.data as { jitter_ms: number }).jitter_ms === 0);
  assert.ok(!parse('call_latency', { delay_ms: 0 }).success);
  assert.ok(!parse('event_loop_block', { block_ms: 1000, every_ms: 500 }).success, 'a block longer than its period');
  assert.ok(!parse('route_exception', { path: 'products' }).success, 'a path pattern starts with /');
  assert.ok(!parse('route_exception', { pct: 101 }).success);
  assert.ok(!parse('heap_growth', { mb_per_s: 10 }).success, 'max_mb is required');
});

test('a target without an agent is refused with the way to give it one; the plan names the rule after the fault', () => {
  const t = AGENT[0];
  assert.match(t.unsupported({ name: 'db' })!, /runs no faultline agent.*agent: true/);
  assert.equal(t.unsupported({ name: 'shop', agent: { service: 'shop' } }), null);
  assert.deepEqual(t.plan({ name: 'shop', agent: { service: 'shop' } }, {}, { id: 'ab12', ttl_s: 5 }), { service: 'shop', id: 'faultline-ab12' });
});
