import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { endOf, roundTrip, SLACK_MS } from '../../../test/helpers/net.ts';
import { proxiedEcho, type ProxiedEcho } from '../../../test/helpers/proxy.ts';

describe('reset_peer toxic', () => {
  let fx: ProxiedEcho;
  before(async () => {
    fx = await proxiedEcho();
  });
  after(() => fx.close());

  it('answers the first data with a TCP RST (ECONNRESET), after `timeout` ms', async () => {
    await fx.proxy.addToxic({ name: 'rst', type: 'reset_peer', attributes: { timeout: 150 } });
    const client = await fx.client();
    const started = performance.now();
    client.write('boom');
    assert.equal(await endOf(client), 'reset');
    const elapsed = performance.now() - started;
    await fx.proxy.removeToxic('rst');
    assert.equal(client.bytesRead, 0);
    assert.ok(elapsed >= 145 && elapsed < 150 + SLACK_MS, `reset after ${elapsed.toFixed(1)} ms`);
  });

  it('resets at once with timeout 0, and upstream-side resets reach the server as RST', async () => {
    await fx.proxy.addToxic({ name: 'up', type: 'reset_peer', stream: 'upstream', attributes: { timeout: 0 } });
    const client = await fx.client();
    client.write('x');
    // The server side gets the RST; the client sees its connection end.
    assert.match(await endOf(client), /^(end|reset)$/);
    await fx.proxy.removeToxic('up');
  });

  it('with toxicity 0 never touches a connection (toxiproxy #603)', async () => {
    await fx.proxy.addToxic({ name: 'never', type: 'reset_peer', toxicity: 0, attributes: { timeout: 0 } });
    const client = await fx.client();
    assert.ok((await roundTrip(client, 'still here')) < SLACK_MS);
    client.end();
    assert.equal(await endOf(client), 'end');
    await fx.proxy.removeToxic('never');
  });
});
