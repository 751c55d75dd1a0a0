import assert from 'node:assert/strict';
import { test } from 'node:test';
import client from 'prom-client';
import { parseExposition } from './exposition.ts';

test('parses names, labels with escapes, special floats, timestamps and types', () => {
  const text = [
    '# HELP x_total A counter.',
    '# TYPE x_total counter',
    'x_total{path="/a\\"b\\\\c\\nd",code="200"} 12 1700000000000',
    'x_total{code="500",} 3',
    'g NaN',
    'h_bucket{le="+Inf"} +Inf',
    'neg -Inf',
    'sci 1.5e3',
    '  ',
    'broken{le="1} 3',
    'noval',
  ].join('\n');
  const { samples, types, errors } = parseExposition(text);
  assert.equal(types.get('x_total'), 'counter');
  assert.deepEqual(samples[0], { name: 'x_total', labels: { path: '/a"b\\c\nd', code: '200' }, value: 12, timestamp_ms: 1700000000000 });
  assert.deepEqual(samples[1], { name: 'x_total', labels: { code: '500' }, value: 3 });
  assert.ok(Number.isNaN(samples[2].value));
  assert.equal(samples[3].value, Infinity);
  assert.equal(samples[4].value, -Infinity);
  assert.equal(samples[5].value, 1500);
  assert.deepEqual(errors.map((e) => e.line), [10, 11]);
});

test('reads back everything prom-client writes, histogram buckets included', async () => {
  const registry = new client.Registry();
  const h = new client.Histogram({ name: 'lat_seconds', help: 'h', labelNames: ['route'], buckets: [0.1, 0.5], registers: [registry] });
  h.observe({ route: '/o"x' }, 0.05);
  h.observe({ route: '/o"x' }, 0.3);
  h.observe({ route: '/o"x' }, 9);
  const { samples, errors } = parseExposition(await registry.metrics());
  assert.deepEqual(errors, []);
  const buckets = samples.filter((s) => s.name === 'lat_seconds_bucket').map((s) => [s.labels.le, s.value, s.labels.route]);
  assert.deepEqual(buckets, [
    ['0.1', 1, '/o"x'],
    ['0.5', 2, '/o"x'],
    ['+Inf', 3, '/o"x'],
  ]);
  assert.equal(samples.find((s) => s.name === 'lat_seconds_count')?.value, 3);
});
