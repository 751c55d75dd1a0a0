import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { roundTrip } from '../../../test/helpers/net.ts';
import { proxiedEcho, type ProxiedEcho } from '../../../test/helpers/proxy.ts';

describe('noop toxic', () => {
  let fx: ProxiedEcho;
  before(async () => {
    fx = await proxiedEcho();
  });
  after(() => fx.close());

  it('passes data through unchanged on both streams', async () => {
    await fx.proxy.addToxic({ type: 'noop', stream: 'upstream' });
    await fx.proxy.addToxic({ type: 'noop' });
    assert.deepEqual(
      fx.proxy.toxics.list().map((t) => t.name),
      ['noop_upstream', 'noop_downstream'],
    );
    const client = await fx.client();
    const payload = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 256));
    assert.ok((await roundTrip(client, payload)) < 1000);
  });
});
