/** slow_close: passes data through, but holds the end of the stream for `delay` ms before closing. */
import { now } from '../../core/clock.ts';
import { isMarker } from '../chunk.ts';
import { INTERRUPTED } from '../stub.ts';
import { defineToxic, int } from '../toxic.ts';

export const slowClose = defineToxic({
  type: 'slow_close',
  summary: 'delays the close of the connection by delay ms',
  attributes: {
    delay: int('ms', 'how long the close is held after the stream ends', 0, 3_600_000),
  },
  async pipe(stub) {
    for (;;) {
      const item = await stub.next();
      if (item === INTERRUPTED) return;
      if (!isMarker(item)) {
        stub.send(item);
        continue;
      }
      if (item.end !== 'reset') await stub.sleepUntil(now() + stub.attrs.delay);
      return stub.end(item);
    }
  },
});
