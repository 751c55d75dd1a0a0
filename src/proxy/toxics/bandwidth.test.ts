import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readBytes, roundTrip, SLACK_MS } from '../../../test/helpers/net.ts';
import { proxiedEcho, type ProxiedEcho } from '../../../test/helpers/proxy.ts';

describe('bandwidth toxic', () => {
  let fx: ProxiedEcho;
  before(async () => {
    fx = await proxiedEcho();
  });
  after(() => fx.close());

  it('moves 480 KB at 1000 KB/s in about 480 ms', async () => {
    const client = await fx.client();
    await fx.proxy.addToxic({ name: 'bw', type: 'bandwidth', attributes: { rate: 1000 } });
    const elapsed = await roundTrip(client, Buffer.alloc(480_000, 1));
    await fx.proxy.removeToxic('bw');
    // The floor is exact (10 ms for the first slice's rounding); the ceiling allows for a loaded CI machine.
    assert.ok(elapsed >= 470 && elapsed < 480 + SLACK_MS, `elapsed ${elapsed.toFixed(1)} ms`);
  });

  it('holds everything at rate 0 (a black hole) and lets it all through, in order, once removed', async () => {
    const client = await fx.client();
    await fx.proxy.addToxic({ name: 'hole', type: 'bandwidth', attributes: { rate: 0 } });
    const payload = Buffer.from(Array.from({ length: 50_000 }, (_, i) => i % 251));
    const reply = readBytes(client, payload.length, 5000);
    client.write(payload);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(client.bytesRead, 0, 'data leaked through a rate-0 link');
    const started = performance.now();
    await fx.proxy.removeToxic('hole');
    assert.ok(performance.now() - started < SLACK_MS, 'removing a black hole must not hang the API');
    assert.ok((await reply).equals(payload));
  });

  it('limits per connection: two connections each get the full rate', async () => {
    const [a, b] = [await fx.client(), await fx.client()];
    await fx.proxy.addToxic({ name: 'each', type: 'bandwidth', attributes: { rate: 1000 } });
    const [ta, tb] = await Promise.all([roundTrip(a, Buffer.alloc(200_000)), roundTrip(b, Buffer.alloc(200_000))]);
    await fx.proxy.removeToxic('each');
    for (const t of [ta, tb]) assert.ok(t >= 195 && t < 200 + SLACK_MS, `elapsed ${t.toFixed(1)} ms`);
  });
});
