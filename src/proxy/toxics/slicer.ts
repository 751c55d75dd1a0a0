/**
 * slicer: cuts each chunk into pieces of about `average_size` ± `size_variation` bytes with `delay` µs between
 * them (exercises a peer's framing code). Each piece is its own socket write; with a delay, the next piece (of
 * this chunk or the next one) waits, on a later event-loop turn, until `delay` has passed since that write (with
 * `delay: 0` they go out back to back). So at 10 µs a 64 KiB write reaches the peer as 64 separate 1 KiB segments with the gap between, not as
 * the few coalesced reads an absolute schedule that catches up in bursts gives.
 */
import { now } from '../../core/clock.ts';
import { isMarker } from '../chunk.ts';
import { INTERRUPTED } from '../stub.ts';
import { defineToxic, int } from '../toxic.ts';

export const slicer = defineToxic({
  type: 'slicer',
  summary: 'slices data into small pieces with a delay between them',
  attributes: {
    average_size: int('bytes', 'mean size of a slice; required (toxiproxy takes 0 and dies of a stack overflow)', 1, 1 << 30),
    size_variation: int('bytes', 'slices vary uniformly by ± this much; must be below average_size', 0, 1 << 30),
    delay: int('µs', 'pause between two slices', 0, 60_000_000),
  },
  check: (a) =>
    a.size_variation >= a.average_size
      ? [{ path: 'attributes.size_variation', message: `must be below average_size (${a.average_size})` }]
      : [],
  async pipe(stub) {
    /** When the last piece was written: the gap runs from there, across chunk boundaries too. */
    let lastSent = -Infinity;
    for (;;) {
      const item = await stub.next();
      if (item === INTERRUPTED) return;
      if (isMarker(item)) return stub.end(item);
      const { average_size: avg, size_variation: spread, delay } = stub.attrs;
      let data = item.data;
      while (data.length > 0) {
        // From the moment the previous piece was written, not from the chunk's start: the gap is what the peer
        // sees. The first piece of a chunk waits too (at least one event-loop turn, even when the gap has passed),
        // or it would join the last piece of the chunk before.
        if (delay > 0 && lastSent > -Infinity && !(await stub.pauseUntil(lastSent + delay / 1000))) {
          stub.send({ data, t: item.t });
          return;
        }
        const size = Math.max(1, avg + Math.floor((Math.random() * 2 - 1) * spread));
        const piece = data.subarray(0, size);
        data = data.subarray(piece.length);
        stub.send({ data: piece, t: item.t });
        lastSent = now();
      }
      if (stub.interrupted) return;
    }
  },
});
