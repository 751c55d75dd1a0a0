import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectTo, readBytes, waitFor } from '../../../test/helpers/net.ts';
import { proxiedEcho, type ProxiedEcho } from '../../../test/helpers/proxy.ts';
import { Proxy } from '../proxy.ts';

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

describe('slicer fidelity (issue 16)', () => {
  it('at delay 10 µs a 64 KiB write reaches the peer as ~64 separate 1 KiB segments, 10 µs or more apart', async (t) => {
    // The peer counts its reads; a slicer on the upstream stream writes to it through a proxy.
    const reads: { bytes: number; at: number }[] = [];
    const accepted = new Set<Socket>();
    const peer = createServer((socket) => {
      accepted.add(socket);
      socket.on('data', (d) => reads.push({ bytes: d.length, at: performance.now() }));
    });
    await new Promise<void>((resolve) => peer.listen(0, '127.0.0.1', resolve));
    const proxy = await Proxy.create({ name: 'slices', listen: '127.0.0.1:0', upstream: `127.0.0.1:${(peer.address() as AddressInfo).port}` });
    const client = await connectTo(proxy.port);
    t.after(async () => {
      client.destroy();
      proxy.close();
      for (const s of accepted) s.destroy();
      await new Promise<void>((resolve) => peer.close(() => resolve()));
    });
    await proxy.addToxic({ type: 'slicer', stream: 'upstream', attributes: { average_size: 1024, size_variation: 0, delay: 10 } });
    const payload = Buffer.alloc(64 << 10, 7);
    client.write(payload);
    await waitFor(() => reads.reduce((n, r) => n + r.bytes, 0) >= payload.length, 'all 64 KiB at the peer');
    // The proxy reads the client's write in one or a few chunks; each is cut in 1 KiB pieces (plus one shorter
    // tail per chunk). A read may rarely join two segments on a loaded machine; most must stay apart.
    const segments = reads.filter((r) => r.bytes <= 1024).length;
    assert.ok(reads.every((r) => r.bytes <= 2048), `reads: ${reads.map((r) => r.bytes).join(' ')}`);
    assert.ok(segments >= 58, `${segments} of ${reads.length} reads were single slices: ${reads.map((r) => r.bytes).join(' ')}`);
    // Lower bound, exact: 63 gaps of at least 10 µs each.
    const span = reads.at(-1)!.at - reads[0].at;
    assert.ok(span >= (63 * 10) / 1000, `span ${span.toFixed(3)} ms`);
  });

  it('delay 0 still delivers every byte in order, and removing a slow slicer mid-chunk flushes the rest', async (t) => {
    const fx = await proxiedEcho('slicer-flush');
    t.after(() => fx.close());
    await fx.proxy.addToxic({ name: 'fast', type: 'slicer', attributes: { average_size: 100, size_variation: 50, delay: 0 } });
    const client = await fx.client();
    const payload = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
    const reply = readBytes(client, payload.length);
    client.write(payload);
    assert.ok((await reply).equals(payload));
    await fx.proxy.removeToxic('fast');
    await fx.proxy.addToxic({ name: 'slow', type: 'slicer', attributes: { average_size: 10, size_variation: 0, delay: 1_000_000 } });
    const slow = readBytes(client, payload.length);
    client.write(payload);
    await waitFor(() => fx.proxy.connections.size > 0, 'the connection');
    await new Promise((r) => setTimeout(r, 50));
    await fx.proxy.removeToxic('slow');
    assert.ok((await slow).equals(payload), 'the rest of the chunk was flushed, in order, when the toxic went');
  });
});
