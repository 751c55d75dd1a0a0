import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { Deadline, DeadlineExceededError } from './deadline.ts';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

test('from the header, capped by the default; each step gets min(its timeout, what is left)', () => {
  let t = 1_000;
  const now = () => t;
  const d = Deadline.fromRequest(req({ 'x-deadline-ms': '500' }), 2_000, now);
  assert.equal(d.remaining(), 500);
  assert.equal(d.budget(300, 'payments'), 300);
  t += 400;
  assert.equal(d.budget(300, 'payments'), 100);
  assert.deepEqual(d.header(), { 'x-deadline-ms': '100' });
  t += 100;
  assert.throws(() => d.budget(300, 'payments'), DeadlineExceededError);
  // No or a bad header: the default applies.
  assert.equal(Deadline.fromRequest(req({}), 2_000, now).remaining(), 2_000);
  assert.equal(Deadline.fromRequest(req({ 'x-deadline-ms': '-5' }), 2_000, now).remaining(), 2_000);
  assert.equal(Deadline.fromRequest(req({ 'x-deadline-ms': '9000' }), 2_000, now).remaining(), 2_000);
});

test('no deadline: timeouts pass through unchanged and no header is sent', () => {
  const d = Deadline.none();
  assert.equal(d.budget(undefined, 'x'), undefined);
  assert.equal(d.budget(250, 'x'), 250);
  assert.deepEqual(d.header(), {});
});
