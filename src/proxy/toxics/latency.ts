/**
 * latency: delays each chunk by `latency` ± `jitter` ms, counted from the chunk's arrival, so chunks in flight
 * overlap their delays (a pipelined link, as toxiproxy does) and throughput is not capped by the delay.
 * Order is kept: a chunk with a shorter jittered delay still waits for the one ahead of it.
 */
import { isMarker } from '../chunk.ts';
import { INTERRUPTED } from '../stub.ts';
import { defineToxic, int } from '../toxic.ts';

const HOUR_MS = 3_600_000;

export const latency = defineToxic({
  type: 'latency',
  summary: 'delays every chunk by latency ± jitter ms',
  attributes: {
    latency: int('ms', 'delay added to every chunk', 0, HOUR_MS),
    jitter: int('ms', 'uniform spread around the delay: [latency − jitter, latency + jitter)', 0, HOUR_MS),
  },
  // A pipelined delay needs room for what is in flight: 32 MiB sustains ~300 MB/s at 100 ms.
  bufferBytes: 32 << 20,
  async pipe(stub) {
    for (;;) {
      const item = await stub.next();
      if (item === INTERRUPTED) return;
      if (isMarker(item)) return stub.end(item);
      const { latency: delay, jitter } = stub.attrs;
      const spread = jitter > 0 ? (Math.random() * 2 - 1) * jitter : 0;
      const due = item.t + Math.max(0, delay + spread);
      await stub.sleepUntil(due);
      // Interrupted or not, the chunk goes on; the stamp is its due time so a second latency toxic adds up.
      stub.release(item, Math.max(due, item.t));
      if (stub.interrupted) return;
    }
  },
});
