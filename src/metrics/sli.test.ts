import assert from 'node:assert/strict';
import { test } from 'node:test';
import { histogramCount, histogramQuantile, increase, isServerError, rate, ratio, windowHistogram } from './sli.ts';
import { SeriesStore } from './store.ts';

const inf = Infinity;

test('histogram_quantile: interpolation within the bucket, first bucket from 0, +Inf answers the highest bound', () => {
  const b = [
    { le: 0.1, count: 50 },
    { le: 0.2, count: 90 },
    { le: 0.4, count: 100 },
    { le: inf, count: 100 },
  ];
  assert.equal(histogramQuantile(0.5, b), 0.1);
  assert.ok(Math.abs(histogramQuantile(0.25, b) - 0.05) < 1e-12); // rank 25 of 50 in [0, 0.1]
  assert.ok(Math.abs(histogramQuantile(0.7, b) - 0.15) < 1e-12); // rank 70: 20 of 40 into (0.1, 0.2]
  assert.ok(Math.abs(histogramQuantile(0.95, b) - 0.3) < 1e-12); // 5 of 10 into (0.2, 0.4]
  const tail = [
    { le: 0.1, count: 1 },
    { le: inf, count: 10 },
  ];
  assert.equal(histogramQuantile(0.99, tail), 0.1);
  assert.ok(Number.isNaN(histogramQuantile(0.5, [{ le: 0.1, count: 0 }, { le: inf, count: 0 }])));
  assert.ok(Number.isNaN(histogramQuantile(0.5, [{ le: 0.1, count: 3 }])));
  assert.equal(histogramQuantile(-1, b), -inf);
  assert.equal(histogramQuantile(2, b), inf);
  // Non-monotonic counts (a scrape race) are lifted, as Prometheus does.
  assert.equal(histogramQuantile(0.5, [{ le: 1, count: 10 }, { le: 2, count: 8 }, { le: inf, count: 20 }]), 1);
  assert.equal(histogramQuantile(0.75, [{ le: 1, count: 10 }, { le: 2, count: 8 }, { le: inf, count: 20 }]), 2);
  // Unsorted input is sorted first.
  assert.equal(histogramQuantile(0.5, [b[2], b[0], b[3], b[1]]), 0.1);
});

test('increase handles resets and series born inside the window; rate and ratio use it', () => {
  const store = new SeriesStore();
  const pts: [number, number][] = [[1000, 10], [2000, 15], [3000, 2], [4000, 7]];
  for (const [t, v] of pts) store.add(t, 'req_total', { status: '200' }, v);
  store.add(3000, 'req_total', { status: '503' }, 4); // first seen mid-window: counts from 0
  store.add(4000, 'req_total', { status: '503' }, 5);
  const ok = store.select('req_total', { status: '200' })[0];
  assert.equal(increase(ok, 1000, 4000), 5 + 2 + 5);
  assert.equal(increase(ok, 0, 4000), 10 + 5 + 2 + 5);
  assert.equal(increase(ok, 2000, 2000), 0);
  assert.equal(rate(store, 'req_total', {}, 1000, 4000), (12 + 5) / 3);
  assert.equal(ratio(store, 'req_total', { status: isServerError }, 'req_total', {}, 1000, 4000), 5 / 17);
  assert.ok(Number.isNaN(ratio(store, 'req_total', {}, 'req_total', {}, 5000, 6000)));
});

test('windowHistogram sums bucket increases across matching series (all statuses of a route)', () => {
  const store = new SeriesStore();
  const put = (t: number, status: string, counts: number[]): void => {
    ['0.1', '0.5', '+Inf'].forEach((le, i) => store.add(t, 'lat_bucket', { route: '/o', status, le }, counts[i]));
  };
  put(1000, '200', [10, 10, 10]);
  put(2000, '200', [20, 25, 25]);
  put(2000, '500', [0, 0, 5]);
  const b = windowHistogram(store, 'lat', { route: '/o' }, 1000, 2000);
  assert.deepEqual(b, [{ le: 0.1, count: 10 }, { le: 0.5, count: 15 }, { le: inf, count: 20 }]);
  assert.equal(histogramCount(b), 20);
  assert.equal(histogramQuantile(0.99, b), 0.5);
});

test('the store round-trips through JSONL, special values included', () => {
  const store = new SeriesStore();
  store.add(1, 'a', { x: '1' }, 1.5);
  store.add(2, 'a', { x: '1' }, NaN);
  store.add(2, 'b', {}, Infinity);
  store.add(1, 'b', {}, 3); // earlier than the last point: ignored
  const back = SeriesStore.fromJsonl(store.toJsonl());
  assert.deepEqual(back.select('a')[0].points[0], [1, 1.5]);
  assert.ok(Number.isNaN(back.select('a')[0].points[1][1]));
  assert.deepEqual(back.select('b')[0].points, [[2, Infinity]]);
});
