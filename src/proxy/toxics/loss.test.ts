import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readBytes, roundTrip } from '../../../test/helpers/net.ts';
import { proxiedEcho, type ProxiedEcho } from '../../../test/helpers/proxy.ts';

describe('loss toxic', () => {
  let fx: ProxiedEcho;
  before(async () => {
    fx = await proxiedEcho();
  });
  after(() => fx.close());

  it('turns lost segments into RTO-sized delays (never gaps), at about the configured rate', async () => {
    await fx.proxy.addToxic({ name: 'l', type: 'loss', attributes: { pct: 30, rto_ms: 40 } });
    const client = await fx.client();
    const rtts: number[] = [];
    for (let i = 0; i < 40; i++) rtts.push(await roundTrip(client, `seg-${i}`.padEnd(16, '.')));
    await fx.proxy.removeToxic('l');
    const late = rtts.filter((r) => r >= 40).length;
    // Each small message is one segment: P(late) = 0.3; 40 tries → expect 12, and [3, 24] holds with > 99.9 %.
    assert.ok(late >= 3 && late <= 24, `${late}/40 round trips were late: ${rtts.map((r) => r.toFixed(0)).join(' ')}`);
    // Every delay is a sum of doubling RTOs: 40, 120, 280, … ms (plus a little scheduling).
    for (const r of rtts.filter((x) => x >= 40)) assert.ok(r >= 40, String(r));
  });

  it('keeps the stream byte-identical and in order under heavy loss', async () => {
    await fx.proxy.addToxic({ name: 'heavy', type: 'loss', attributes: { pct: 10, rto_ms: 5, segment_bytes: 512 } });
    const client = await fx.client();
    const payload = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) % 256));
    const reply = readBytes(client, payload.length, 10_000);
    client.write(payload);
    const got = await reply;
    await fx.proxy.removeToxic('heavy');
    assert.ok(got.equals(payload), 'bytes lost or reordered');
  });

  it('refuses 100 % (a dead link is the timeout toxic)', async () => {
    await assert.rejects(fx.proxy.addToxic({ type: 'loss', attributes: { pct: 100 } }), /pct: must be below 100/);
  });
});
