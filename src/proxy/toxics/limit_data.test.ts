import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { endOf, readBytes } from '../../../test/helpers/net.ts';
import { proxiedEcho, type ProxiedEcho } from '../../../test/helpers/proxy.ts';

describe('limit_data toxic', () => {
  let fx: ProxiedEcho;
  before(async () => {
    fx = await proxiedEcho();
  });
  after(() => fx.close());

  it('lets exactly `bytes` through, truncating the crossing chunk, then closes', async () => {
    await fx.proxy.addToxic({ name: 'lim', type: 'limit_data', attributes: { bytes: 100 } });
    const client = await fx.client();
    const payload = Buffer.alloc(300, 9);
    const ended = endOf(client);
    const got = readBytes(client, 300, 3000);
    client.write(payload);
    assert.equal((await got).length, 100);
    assert.equal(await ended, 'end');
    await fx.proxy.removeToxic('lim');
  });

  it('keeps its count across an update of the limit', async () => {
    await fx.proxy.addToxic({ name: 'lim2', type: 'limit_data', attributes: { bytes: 1000 } });
    const client = await fx.client();
    const first = readBytes(client, 600);
    client.write(Buffer.alloc(600, 1));
    assert.equal((await first).length, 600);
    await fx.proxy.updateToxic('lim2', { attributes: { bytes: 700 } });
    const ended = endOf(client);
    const rest = readBytes(client, 600, 3000);
    client.write(Buffer.alloc(600, 2));
    assert.equal((await rest).length, 100, 'the counter restarted on update');
    assert.equal(await ended, 'end');
    await fx.proxy.removeToxic('lim2');
  });
});
