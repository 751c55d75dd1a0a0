import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ring } from './ring.ts';

test('since() returns the slots after t, oldest first, with gaps as null', () => {
  const ring = new Ring(4);
  ring.append(1000, new Map([['a', 1]]));
  ring.append(2000, new Map([['a', 2], ['b', 20]]));
  ring.append(3000, new Map([['b', 30]]));
  assert.deepEqual(ring.since(0), { t: [1000, 2000, 3000], series: { a: [1, 2, null], b: [null, 20, 30] } });
  assert.deepEqual(ring.since(1500), { t: [2000, 3000], series: { a: [2, null], b: [20, 30] } });
  // A column all gaps in an incremental read is left out (the page treats a missing id as null).
  assert.deepEqual(ring.since(2000), { t: [3000], series: { b: [30] } });
  assert.deepEqual(ring.since(3000), { t: [], series: {} });
});

test('the ring keeps the newest `capacity` rounds and ignores a round not later than the last', () => {
  const ring = new Ring(3);
  for (let i = 1; i <= 5; i++) ring.append(i * 1000, new Map([['x', i]]));
  ring.append(5000, new Map([['x', 99]]));
  ring.append(4000, new Map([['x', 99]]));
  assert.equal(ring.length, 3);
  assert.deepEqual(ring.since(0), { t: [3000, 4000, 5000], series: { x: [3, 4, 5] } });
  assert.deepEqual(ring.since(4500).t, [5000]);
});

test('an hour at 1 s of 120 series reads back whole and incrementally', () => {
  const ring = new Ring(3600);
  const ids = Array.from({ length: 120 }, (_, i) => `svc/panel/${i}`);
  for (let s = 0; s < 4000; s++) ring.append(s * 1000, new Map(ids.map((id, i) => [id, s + i])));
  const all = ring.since(-1);
  assert.equal(all.t.length, 3600);
  assert.equal(all.t[0], 400_000);
  assert.equal(all.series['svc/panel/7'][0], 407);
  const tail = ring.since(3_998_000);
  assert.deepEqual(tail.t, [3_999_000]);
  assert.equal(tail.series['svc/panel/119'][0], 3999 + 119);
});

test('a capacity below 2 is refused', () => {
  assert.throws(() => new Ring(1), RangeError);
});
