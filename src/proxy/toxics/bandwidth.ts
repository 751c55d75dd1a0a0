/**
 * bandwidth: limits this link to `rate` KB/s (1 KB = 1000 B), per connection and direction like toxiproxy.
 * Each slice of at most 100 ms worth of data is released at an absolute due time computed from the previous
 * one, so timer overshoot does not accumulate into a lower rate. `rate: 0` holds data forever: a black hole
 * that toxiproxy users rely on, which removing or updating the toxic still ends at once.
 */
import { isMarker } from '../chunk.ts';
import { INTERRUPTED } from '../stub.ts';
import { defineToxic, int } from '../toxic.ts';

interface BandwidthState {
  /** Monotonic ms when the link is free to send its next byte. */
  nextFree: number;
}

export const bandwidth = defineToxic({
  type: 'bandwidth',
  summary: 'limits throughput to rate KB/s per connection and direction (0 = hold everything)',
  attributes: {
    rate: int('KB/s', 'throughput limit; 1 KB = 1000 bytes; 0 holds all data until the toxic changes', 0, 100_000_000),
  },
  initState: (): BandwidthState => ({ nextFree: 0 }),
  async pipe(stub) {
    for (;;) {
      const item = await stub.next();
      if (item === INTERRUPTED) return;
      if (stub.attrs.rate === 0) {
        // The black hole: hold this item (and so everything behind it) until the toxic changes.
        while (!stub.interrupted) await stub.sleepUntil(Infinity);
        stub.send(item);
        return;
      }
      if (isMarker(item)) return stub.end(item);
      const rate = stub.attrs.rate; // KB/s = bytes per ms
      const sliceBytes = rate * 100;
      let data = item.data;
      while (data.length > 0) {
        const slice = data.length > sliceBytes ? data.subarray(0, sliceBytes) : data;
        data = data.subarray(slice.length);
        // From the chunk's arrival, not from now: a timer that fires late must not push every later slice back.
        const due = Math.max(item.t, stub.state.nextFree) + slice.length / rate;
        stub.state.nextFree = due;
        if (!(await stub.sleepUntil(due))) {
          // Interrupted mid-chunk: flush the rest now, undelayed, and let the restarted toxic take over.
          stub.send({ data: data.length > 0 ? Buffer.concat([slice, data]) : slice, t: item.t });
          return;
        }
        stub.release({ data: slice, t: due }, due);
      }
    }
  },
});
