import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readBytes, roundTrip, SLACK_MS } from '../../../test/helpers/net.ts';
import { proxiedEcho, type ProxiedEcho } from '../../../test/helpers/proxy.ts';

const LATE_MS = SLACK_MS;

describe('latency toxic', () => {
  let fx: ProxiedEcho;
  before(async () => {
    fx = await proxiedEcho();
  });
  after(() => fx.close());

  it('delays each round trip by the configured latency', async () => {
    const client = await fx.client();
    const base = await roundTrip(client, 'warm');
    await fx.proxy.addToxic({ name: 'lat', type: 'latency', attributes: { latency: 100 } });
    const rtt = await roundTrip(client, 'ping');
    assert.ok(rtt >= 100, `round trip ${rtt.toFixed(1)} ms came earlier than 100 ms`);
    assert.ok(rtt < 100 + base + LATE_MS, `round trip ${rtt.toFixed(1)} ms`);
    await fx.proxy.removeToxic('lat');
  });

  it('keeps jitter inside [latency − jitter, latency + jitter)', async () => {
    const client = await fx.client();
    await fx.proxy.addToxic({ name: 'jit', type: 'latency', attributes: { latency: 60, jitter: 30 } });
    const rtts: number[] = [];
    for (let i = 0; i < 12; i++) rtts.push(await roundTrip(client, `j${i}`));
    await fx.proxy.removeToxic('jit');
    assert.ok(Math.min(...rtts) >= 30 - 1, `min ${Math.min(...rtts)}`);
    assert.ok(Math.max(...rtts) < 90 + LATE_MS, `max ${Math.max(...rtts)}`);
    assert.ok(Math.max(...rtts) - Math.min(...rtts) > 5, 'jitter produced no spread at all');
  });

  it('pipelines: the delay counts from each chunk arrival, so chunks in flight overlap', async () => {
    const client = await fx.client();
    await fx.proxy.addToxic({ name: 'pipe', type: 'latency', attributes: { latency: 100 } });
    const started = performance.now();
    const all = readBytes(client, 10 * 4);
    for (let i = 0; i < 10; i++) {
      client.write(`m${i}..`.slice(0, 4));
      await new Promise((r) => setTimeout(r, 10));
    }
    const got = await all;
    const elapsed = performance.now() - started;
    await fx.proxy.removeToxic('pipe');
    assert.equal(got.length, 40);
    // Serialized delays would take ≥ 1 s; pipelined ones ≈ 100 ms + the 90 ms spent sending.
    assert.ok(elapsed >= 190 && elapsed < 190 + 2 * LATE_MS, `elapsed ${elapsed.toFixed(1)} ms`);
  });

  it('adds up when two latency toxics are stacked', async () => {
    const client = await fx.client();
    await fx.proxy.addToxic({ name: 'a', type: 'latency', attributes: { latency: 50 } });
    await fx.proxy.addToxic({ name: 'b', type: 'latency', attributes: { latency: 70 } });
    const rtt = await roundTrip(client, 'two');
    await fx.proxy.removeToxic('a');
    await fx.proxy.removeToxic('b');
    assert.ok(rtt >= 120 && rtt < 120 + LATE_MS, `round trip ${rtt.toFixed(1)} ms`);
  });

  it('does not cap throughput: 16 MiB over a 100 ms link takes one latency more than without it', async () => {
    const client = await fx.client();
    const payload = Buffer.alloc(16 << 20, 7);
    // The same transfer without the toxic, just before, on the same machine load: the toxic's cost is the
    // difference. Delaying chunks one after another (16 MiB is ≥ 256 reads) would add ≥ 25 s, not ~100 ms.
    const plain = await roundTrip(client, payload, 20_000);
    await fx.proxy.addToxic({ name: 'bulk', type: 'latency', stream: 'upstream', attributes: { latency: 100 } });
    const elapsed = await roundTrip(client, payload, 20_000);
    await fx.proxy.removeToxic('bulk');
    assert.ok(elapsed >= 100, `elapsed ${elapsed.toFixed(1)} ms`);
    assert.ok(elapsed - plain < 100 + 1000, `elapsed ${elapsed.toFixed(1)} ms vs ${plain.toFixed(1)} ms without the toxic`);
  });

  it('acts on a live connection at once when added, updated and removed', async () => {
    const client = await fx.client();
    assert.ok((await roundTrip(client, 'x')) < LATE_MS);
    await fx.proxy.addToxic({ name: 'live', type: 'latency', attributes: { latency: 80 } });
    const added = await roundTrip(client, 'y');
    await fx.proxy.updateToxic('live', { attributes: { latency: 200 } });
    const updated = await roundTrip(client, 'z');
    await fx.proxy.removeToxic('live');
    const removed = await roundTrip(client, 'w');
    assert.ok(added >= 80 && added < 80 + LATE_MS, `added ${added}`);
    assert.ok(updated >= 200 && updated < 200 + LATE_MS, `updated ${updated}`);
    assert.ok(removed < LATE_MS, `removed ${removed}`);
  });

  it('keeps delaying only the share of connections its toxicity picks, per connection', async () => {
    await fx.proxy.addToxic({ name: 'half', type: 'latency', toxicity: 0.5, attributes: { latency: 80 } });
    let slow = 0;
    const n = 24;
    for (let i = 0; i < n; i++) {
      const client = await fx.client();
      const first = await roundTrip(client, 'a');
      const second = await roundTrip(client, 'b');
      // Rolled once per link: a connection is slow on every message, or on none.
      assert.equal(first >= 80, second >= 80, `connection ${i}: ${first.toFixed(1)} vs ${second.toFixed(1)} ms`);
      if (first >= 80) slow++;
      client.destroy();
    }
    await fx.proxy.removeToxic('half');
    // P(slow ∉ [3, 21]) for Binomial(24, 0.5) is < 0.03 %.
    assert.ok(slow >= 3 && slow <= 21, `${slow}/${n} connections slowed`);
  });
});
