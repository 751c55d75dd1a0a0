/**
 * slicer: cuts each chunk into pieces of about `average_size` ± `size_variation` bytes with `delay` µs between
 * them (exercises a peer's framing code). Delays are kept on an absolute schedule, so sub-millisecond gaps add
 * up to the right total instead of each rounding up to a whole timer tick.
 */
import { now } from '../../core/clock.ts';
import { isMarker } from '../chunk.ts';
import { INTERRUPTED } from '../stub.ts';
import { defineToxic, int } from '../toxic.ts';

export const slicer = defineToxic({
  type: 'slicer',
  summary: 'slices data into small pieces with a delay between them',
  attributes: {
    average_size: int('bytes', 'mean size of a slice (toxiproxy loops forever on 0; here it is refused)', 1, 1 << 30),
    size_variation: int('bytes', 'slices vary uniformly by ± this much; must be below average_size', 0, 1 << 30),
    delay: int('µs', 'pause between two slices', 0, 60_000_000),
  },
  check: (a) =>
    a.size_variation >= a.average_size
      ? [{ path: 'attributes.size_variation', message: `must be below average_size (${a.average_size})` }]
      : [],
  async pipe(stub) {
    for (;;) {
      const item = await stub.next();
      if (item === INTERRUPTED) return;
      if (isMarker(item)) return stub.end(item);
      const { average_size: avg, size_variation: spread, delay } = stub.attrs;
      let data = item.data;
      let due = now();
      while (data.length > 0) {
        const size = Math.max(1, avg + Math.floor((Math.random() * 2 - 1) * spread));
        const piece = data.subarray(0, size);
        data = data.subarray(piece.length);
        stub.send({ data: piece, t: item.t });
        if (data.length === 0) break;
        due += delay / 1000;
        if (!(await stub.sleepUntil(due))) {
          stub.send({ data, t: item.t });
          return;
        }
      }
      if (stub.interrupted) return;
    }
  },
});
