/**
 * limit_data: lets at most `bytes` through on this link, truncating the chunk that crosses the limit, then
 * closes the connection. The count survives updates of the toxic (it is per link state), as in toxiproxy.
 */
import { CLOSE, isMarker } from '../chunk.ts';
import { INTERRUPTED } from '../stub.ts';
import { defineToxic, int } from '../toxic.ts';

export const limitData = defineToxic({
  type: 'limit_data',
  summary: 'closes the connection after bytes bytes went through',
  attributes: {
    bytes: int('bytes', 'how many bytes pass before the connection is closed (0: close on the first chunk)'),
  },
  initState: () => ({ sent: 0 }),
  async pipe(stub) {
    for (;;) {
      const item = await stub.next();
      if (item === INTERRUPTED) return;
      if (isMarker(item)) return stub.end(item);
      const room = Math.max(0, stub.attrs.bytes - stub.state.sent);
      if (item.data.length > room) {
        stub.link.discarded(item.data.length - room);
        item.data = item.data.subarray(0, room);
      }
      if (item.data.length > 0) {
        stub.state.sent += item.data.length;
        stub.send(item);
      }
      // The close travels behind the data it let through, so nothing before the limit is cut off.
      if (stub.state.sent >= stub.attrs.bytes) return stub.end(CLOSE);
    }
  },
});
