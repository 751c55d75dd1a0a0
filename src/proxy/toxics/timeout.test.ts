import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { endOf, roundTrip, SLACK_MS } from '../../../test/helpers/net.ts';
import { proxiedEcho, type ProxiedEcho } from '../../../test/helpers/proxy.ts';

describe('timeout toxic', () => {
  let fx: ProxiedEcho;
  before(async () => {
    fx = await proxiedEcho();
  });
  after(() => fx.close());

  it('swallows data and closes the connection after `timeout` ms', async () => {
    await fx.proxy.addToxic({ name: 't', type: 'timeout', attributes: { timeout: 200 } });
    const client = await fx.client();
    const started = performance.now();
    client.write('anyone there?');
    assert.equal(await endOf(client), 'end');
    const elapsed = performance.now() - started;
    await fx.proxy.removeToxic('t');
    assert.equal(client.bytesRead, 0, 'the timeout toxic let data through');
    assert.ok(elapsed >= 195 && elapsed < 200 + SLACK_MS, `closed after ${elapsed.toFixed(1)} ms`);
  });

  it('with timeout 0 keeps the connection open and silent until the toxic is removed, which closes it', async () => {
    await fx.proxy.addToxic({ name: 't0', type: 'timeout', attributes: { timeout: 0 } });
    const client = await fx.client();
    client.write('hello');
    const ended = endOf(client, 3000);
    let closed = false;
    void ended.then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(closed, false, 'closed although timeout is 0');
    assert.equal(client.bytesRead, 0);
    await fx.proxy.removeToxic('t0');
    assert.equal(await ended, 'end');
  });

  it('leaves connections opened after its removal alone', async () => {
    const client = await fx.client();
    assert.ok((await roundTrip(client, 'fine')) < SLACK_MS);
  });
});
