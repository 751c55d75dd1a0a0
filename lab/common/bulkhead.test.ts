import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Bulkhead, BulkheadFullError } from './bulkhead.ts';

test('slots, then a bounded queue, then refusal; a release hands the slot to the oldest waiter', async () => {
  const b = new Bulkhead('write', 2, 1);
  const r1 = await b.acquire();
  await b.acquire();
  let second = false;
  const waiting = b.acquire().then((release) => {
    second = true;
    return release;
  });
  await assert.rejects(b.acquire(), BulkheadFullError);
  assert.equal(b.waiting, 1);
  r1();
  r1(); // a second release is harmless
  const r3 = await waiting;
  assert.ok(second);
  assert.equal(b.active, 2);
  r3();
  assert.equal(b.active, 1);
});

test('a waiter gives up after maxWaitMs; resize admits waiters at once', async () => {
  const b = new Bulkhead('read', 1, 5);
  await b.acquire();
  await assert.rejects(b.acquire(5), BulkheadFullError);
  assert.equal(b.waiting, 0);
  const pending = b.acquire();
  b.resize(2, 5);
  await pending;
  assert.equal(b.active, 2);
});
