/**
 * Reads for sockets faultline opens itself (the upstream side): Node reads into a buffer we lend it instead of
 * allocating 64 KiB per read. The buffer grows while reads fill it (up to 1 MiB: fewer, larger reads on bulk
 * transfers) and is reused while nothing holds it; it is replaced when a pending write or the toxic chain still
 * refers to it. An idle connection costs one small buffer.
 *
 *   kernel ─read─▶ lent buffer ─view─▶ consume(view) → still referenced? ─yes─▶ lend a fresh buffer next time
 */
import type { OnReadOpts } from 'node:net';

const INITIAL_BYTES = 2 << 10;
const MAX_BYTES = 1 << 20;

/**
 * onread options for net.connect. `consume` gets a view of the bytes just read and answers whether it keeps a
 * reference to them after returning (then the buffer is not reused).
 */
export function lendingReader(consume: (view: Buffer) => boolean): OnReadOpts {
  let buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  return {
    buffer: () => buffer,
    callback(bytes: number, lent: Uint8Array): boolean {
      const view = Buffer.from(lent.buffer, lent.byteOffset, bytes);
      const kept = consume(view);
      // Grow while reads fill the buffer; once at the maximum, keep reusing it (a fresh 1 MiB per read would cost
      // a page fault per 4 KiB: that was the main cost of a bulk transfer).
      const grow = bytes === lent.length && lent.length < MAX_BYTES;
      if (kept || grow) buffer = Buffer.allocUnsafe(grow ? Math.min(lent.length * 4, MAX_BYTES) : lent.length);
      return true;
    },
  };
}
