/**
 * reset_peer: on the first chunk (or the end of the stream) waits `timeout` ms, drops the data and aborts the
 * connection with a TCP RST (the peer reads ECONNRESET), as toxiproxy does. Unlike toxiproxy (#603), a link whose
 * toxicity roll failed is left alone entirely.
 */
import { now } from '../../core/clock.ts';
import { isMarker, RESET } from '../chunk.ts';
import { INTERRUPTED } from '../stub.ts';
import { defineToxic, int } from '../toxic.ts';

export const resetPeer = defineToxic({
  type: 'reset_peer',
  summary: 'aborts the connection with an RST on the first data, after timeout ms',
  attributes: {
    timeout: int('ms', 'wait after the first chunk before the reset', 0, 86_400_000),
  },
  async pipe(stub) {
    const item = await stub.next();
    if (item === INTERRUPTED) return;
    if (!(await stub.sleepUntil(now() + stub.attrs.timeout))) {
      // Removed or updated while waiting: nothing was reset, so the chunk goes on.
      stub.send(item);
      return;
    }
    if (!isMarker(item)) stub.discard(item);
    stub.end(RESET);
  },
});
