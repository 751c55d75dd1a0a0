import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readBytes } from '../../../test/helpers/net.ts';
import { proxiedEcho, type ProxiedEcho } from '../../../test/helpers/proxy.ts';

describe('slicer toxic', () => {
  let fx: ProxiedEcho;
  before(async () => {
    fx = await proxiedEcho();
  });
  after(() => fx.close());

  it('delivers the same bytes, in order, in many small reads spaced by `delay` µs', async () => {
    await fx.proxy.addToxic({ name: 's', type: 'slicer', attributes: { average_size: 64, size_variation: 32, delay: 2000 } });
    const client = await fx.client();
    const payload = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256));
    let reads = 0;
    client.on('data', () => reads++);
    const started = performance.now();
    const reply = readBytes(client, payload.length);
    client.write(payload);
    assert.ok((await reply).equals(payload));
    const elapsed = performance.now() - started;
    await fx.proxy.removeToxic('s');
    // 4096 B / ~64 B ≈ 64 slices ≈ 63 × 2 ms of gaps; a busy client may coalesce some reads, never most of them.
    assert.ok(reads >= 16, `only ${reads} reads`);
    assert.ok(elapsed >= 60, `elapsed ${elapsed.toFixed(1)} ms: the delays were not applied`);
  });
});
