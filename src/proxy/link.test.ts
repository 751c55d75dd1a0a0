import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readBytes, waitFor } from '../../test/helpers/net.ts';
import { proxiedEcho, type ProxiedEcho } from '../../test/helpers/proxy.ts';

/** A deterministic byte pattern that makes any loss, duplication or reordering visible. */
function pattern(bytes: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A seeded PRNG so a failing shuffle of toxic changes can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe('link: live toxic changes on a busy stream', () => {
  let fx: ProxiedEcho;
  before(async () => {
    fx = await proxiedEcho();
  });
  after(() => fx.close());

  it('a long echo stream arrives byte-identical while toxics are added, updated and removed at random', async () => {
    const seed = Number(process.env.FAULTLINE_TEST_SEED ?? 20261123);
    const random = prng(seed);
    const client = await fx.client();
    const payload = pattern(24 << 20, seed);
    const reply = readBytes(client, payload.length, 60_000);
    // Lossless toxics only: timeout, reset_peer and limit_data end streams by design.
    const kinds = [
      () => ({ type: 'latency', attributes: { latency: Math.floor(random() * 20), jitter: Math.floor(random() * 5) } }),
      () => ({ type: 'bandwidth', attributes: { rate: 20_000 + Math.floor(random() * 80_000) } }),
      () => ({ type: 'slicer', attributes: { average_size: 2048, size_variation: 1024, delay: 10 } }),
      () => ({ type: 'loss', attributes: { pct: 1, rto_ms: 2, segment_bytes: 8192 } }),
      () => ({ type: 'noop' }),
      () => ({ type: 'slow_close', attributes: { delay: 5 } }),
    ];
    let writing = true;
    const writer = (async () => {
      for (let offset = 0; offset < payload.length; offset += 64 << 10) {
        if (!client.write(payload.subarray(offset, offset + (64 << 10)))) {
          await new Promise((r) => client.once('drain', r));
        }
        // Paced so the transfer spans many toxic changes (~3 s), instead of finishing before the first few.
        await new Promise((r) => setTimeout(r, 6));
      }
      writing = false;
    })();
    let changes = 0;
    const live: string[] = [];
    while (writing || live.length > 0) {
      const action = random();
      if (writing && (live.length === 0 || action < 0.45)) {
        const body = kinds[Math.floor(random() * kinds.length)]();
        const name = `t${changes}`;
        await fx.proxy.addToxic({ ...body, name, stream: random() < 0.5 ? 'upstream' : 'downstream' });
        live.push(name);
      } else if (writing && action < 0.7) {
        const name = live[Math.floor(random() * live.length)];
        const toxic = fx.proxy.toxics.get(name);
        if (toxic.type === 'latency') await fx.proxy.updateToxic(name, { attributes: { latency: Math.floor(random() * 20) } });
        else await fx.proxy.updateToxic(name, { toxicity: random() < 0.5 ? 1 : 0.5 });
      } else {
        const [name] = live.splice(Math.floor(random() * live.length), 1);
        await fx.proxy.removeToxic(name);
      }
      changes++;
      await new Promise((r) => setTimeout(r, 5 + random() * 20));
    }
    await writer;
    const got = await reply;
    assert.equal(got.length, payload.length, `seed ${seed}: got ${got.length} of ${payload.length} bytes`);
    assert.ok(got.equals(payload), `seed ${seed}: bytes differ after ${changes} toxic changes`);
    assert.ok(changes >= 20, `only ${changes} changes happened during the transfer`);
  });

  it('never hangs the API: removing a black hole under load answers at once and the data flows', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => fx.client()));
    await fx.proxy.addToxic({ name: 'hole', type: 'bandwidth', attributes: { rate: 0 } });
    const payload = pattern(256 << 10, 7);
    const replies = clients.map((c) => readBytes(c, payload.length, 10_000));
    for (const c of clients) c.write(payload);
    await new Promise((r) => setTimeout(r, 200));
    const started = performance.now();
    await fx.proxy.addToxic({ name: 'more', type: 'latency', attributes: { latency: 10 } });
    await fx.proxy.updateToxic('hole', { attributes: { rate: 0 } });
    await fx.proxy.removeToxic('hole');
    await fx.proxy.removeToxic('more');
    const apiTime = performance.now() - started;
    assert.ok(apiTime < 500, `four toxic changes under load took ${apiTime.toFixed(0)} ms`);
    for (const reply of replies) assert.ok((await reply).equals(payload));
  });

  it('disabling the proxy closes live connections and refuses new ones; enabling listens again', async () => {
    const client = await fx.client();
    const port = fx.proxy.port;
    const closed = new Promise((r) => client.once('close', r));
    await fx.proxy.update({ enabled: false });
    await closed;
    await assert.rejects(fx.client(), /ECONNREFUSED/);
    await fx.proxy.update({ enabled: true });
    assert.equal(fx.proxy.port, port, 'a re-enabled proxy must come back on the same port');
    const again = await fx.client();
    again.write('ok');
    assert.equal((await readBytes(again, 2)).toString(), 'ok');
  });

  it('removes a toxic by itself when its ttl_s runs out', async () => {
    await fx.proxy.addToxic({ name: 'brief', type: 'latency', ttl_s: 0.2, attributes: { latency: 50 } });
    assert.equal(fx.proxy.toxics.size, 1);
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(fx.proxy.toxics.size, 0, 'the toxic outlived its TTL');
  });
});

describe('connection lifecycle', () => {
  it('a client that closes while the upstream dial is in flight leaves no connection behind', async () => {
    const fx = await proxiedEcho('early');
    try {
      const { connect } = await import('node:net');
      const closed: Promise<unknown>[] = [];
      for (let i = 0; i < 50; i++) {
        const c = connect(fx.proxy.port, '127.0.0.1');
        c.on('connect', () => c.destroy());
        c.on('error', () => {});
        closed.push(new Promise((r) => c.once('close', r)));
      }
      await Promise.all(closed);
      await waitFor(() => fx.proxy.connectionsTotal === 50, 'the proxy to accept all 50 clients');
      await waitFor(() => fx.echo.sockets.size > 0 || fx.proxy.connections.size === 0, 'upstream dials');
      const deadline = Date.now() + 3000;
      while ((fx.proxy.connections.size > 0 || fx.echo.sockets.size > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(fx.proxy.connections.size, 0, 'proxied connections left open');
      assert.equal(fx.echo.sockets.size, 0, 'upstream sockets left open');
    } finally {
      await fx.close();
    }
  });
});
