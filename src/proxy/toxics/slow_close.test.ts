import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { endOf, readBytes, SLACK_MS } from '../../../test/helpers/net.ts';
import { proxiedEcho, type ProxiedEcho } from '../../../test/helpers/proxy.ts';

describe('slow_close toxic', () => {
  let fx: ProxiedEcho;
  before(async () => {
    fx = await proxiedEcho();
  });
  after(() => fx.close());

  it('delivers data at once but holds the close for `delay` ms', async () => {
    await fx.proxy.addToxic({ name: 'sc', type: 'slow_close', attributes: { delay: 300 } });
    const client = await fx.client();
    const started = performance.now();
    const data = readBytes(client, 5);
    client.end('hello'); // the echo server answers and half-closes back
    assert.equal((await data).toString(), 'hello');
    assert.ok(performance.now() - started < Math.min(250, SLACK_MS), 'data was delayed too');
    assert.equal(await endOf(client), 'end');
    const closedAfter = performance.now() - started;
    await fx.proxy.removeToxic('sc');
    assert.ok(closedAfter >= 300 && closedAfter < 300 + SLACK_MS, `closed after ${closedAfter.toFixed(1)} ms`);
  });
});
