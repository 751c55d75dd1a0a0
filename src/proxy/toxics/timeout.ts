/**
 * timeout: swallows all data (the peer sees a connection that accepts but never answers) and, when `timeout`
 * is above 0, closes the connection that long after the toxic started on this link. Removing the toxic closes
 * the connection too, as toxiproxy does: the data it ate is gone, so the stream could not be trusted anyway.
 */
import { isMarker } from '../chunk.ts';
import { INTERRUPTED } from '../stub.ts';
import { defineToxic, int } from '../toxic.ts';

export const timeout = defineToxic({
  type: 'timeout',
  summary: 'drops all data, closes the connection after timeout ms (0 = never)',
  attributes: {
    timeout: int('ms', 'time until the connection is closed; 0 keeps it open forever', 0, 86_400_000),
  },
  onRemove: (stub) => stub.link.closeConnection(),
  async pipe(stub) {
    if (stub.attrs.timeout > 0) stub.after(stub.attrs.timeout, () => stub.link.closeConnection());
    for (;;) {
      const item = await stub.next();
      if (item === INTERRUPTED) return;
      if (isMarker(item)) return stub.end(item);
      stub.discard(item);
    }
  },
});
