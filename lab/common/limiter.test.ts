import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AimdLimit, ConcurrencyLimiter, Gradient2Limit } from './limiter.ts';

describe('AIMD', () => {
  test('adds one while at least half the limit is in use; ×0.9 on a drop; clamped', () => {
    const l = new AimdLimit({ initial: 20, min: 5, max: 22 });
    l.onSample(10, 5, false); // inflight·2 < L: no change
    assert.equal(l.limit, 20);
    l.onSample(10, 10, false);
    assert.equal(l.limit, 21);
    l.onSample(10, 15, false);
    l.onSample(10, 15, false);
    assert.equal(l.limit, 22, 'clamped to max');
    l.onSample(10, 15, true);
    assert.equal(l.limit, 19, '⌊22 × 0.9⌋');
    l.onSample(6_000, 15, false);
    assert.equal(l.limit, 17, 'an rtt above the timeout counts as a drop');
    for (let i = 0; i < 50; i++) l.onSample(10, 1, true);
    assert.equal(l.limit, 5, 'clamped to min');
  });
});

describe('Gradient2', () => {
  test('steady rtt: the limit probes upwards by the queue size share', () => {
    const l = new Gradient2Limit({ initial: 20, min: 5, max: 200 });
    l.update(10, 20);
    // g = clamp(1.5 × 10 / 10, 0.5, 1) = 1 → L = 0.8·20 + 0.2·(20 + 4) = 20.8
    assert.equal(l.limit, 20);
    l.update(10, 20);
    assert.equal(l.limit, 21); // 21.6
  });

  test('rtt rising above tolerance × long rtt shrinks the limit towards half', () => {
    const l = new Gradient2Limit({ initial: 100, min: 5, max: 200 });
    for (let i = 0; i < 10; i++) l.update(10, 100); // long rtt 10
    const before = l.limit;
    l.update(80, 100); // queueing: gradient = 1.5 × long / 80, clamped to 0.5
    assert.ok(l.limit < before, `${l.limit} !< ${before}`);
    // With a gradient of 0.5 each step: L ← 0.8L + 0.2(0.5L + 4) = 0.9L + 0.8
    let expected = l.limit;
    for (let i = 0; i < 20; i++) l.update(80, 100);
    assert.ok(l.limit < expected * 0.5, `limit ${l.limit}`);
  });

  test('low utilisation (in flight < L/2) leaves the limit alone', () => {
    const l = new Gradient2Limit({ initial: 40, min: 5, max: 200 });
    for (let i = 0; i < 5; i++) l.update(500, 3);
    assert.equal(l.limit, 40);
  });

  test('the long rtt decays after a slow spell so the limit can recover', () => {
    const l = new Gradient2Limit({ initial: 40, min: 5, max: 200 });
    for (let i = 0; i < 20; i++) l.update(200, 40);
    const inflated = l.longRtt;
    for (let i = 0; i < 20; i++) l.update(10, 40);
    assert.ok(l.longRtt < inflated / 2, `long rtt ${l.longRtt} vs ${inflated}`);
  });

  test('windows: samples are averaged per window of the (fake) clock, with a minimum count', () => {
    let t = 0;
    const l = new Gradient2Limit({ initial: 20, min: 5, max: 200, windowMs: 1_000, minWindowSamples: 3, now: () => t });
    l.onSample(10, 20, false);
    l.onSample(10, 20, false);
    t = 2_000;
    l.onSample(10, 20, false); // third sample and the window has elapsed: one update
    assert.equal(l.longRtt, 10);
    l.onSample(30, 20, false); // a new window, not elapsed yet
    assert.equal(l.longRtt, 10);
  });
});

describe('ConcurrencyLimiter', () => {
  test('sheds at the limit, admits again after a release, and samples the rtt on the injected clock', () => {
    let t = 0;
    const seen: number[] = [];
    const algo = { limit: 2, onSample: (rtt: number) => seen.push(rtt) };
    const limiter = new ConcurrencyLimiter(algo, () => t);
    const a = limiter.tryAcquire()!;
    const b = limiter.tryAcquire()!;
    assert.equal(limiter.tryAcquire(), undefined);
    t = 42;
    a.release();
    a.release(); // twice is harmless
    assert.equal(limiter.inflight, 1);
    assert.deepEqual(seen, [42]);
    assert.ok(limiter.tryAcquire());
    b.release();
  });
});
