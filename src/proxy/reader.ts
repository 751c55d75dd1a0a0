/**
 * Reads into a buffer we lend Node instead of Node allocating 64 KiB per read, for both sides of a proxied
 * connection: the dial (net.connect's `onread`) and the accepted client (adoptWithReader). The buffer grows while
 * reads fill it (up to 1 MiB: fewer, larger reads on bulk transfers), shrinks back once reads are tiny beside it
 * (a connection that moved a bulk transfer and went back to small messages does not keep 1 MiB), and is reused
 * while nothing holds it; it is replaced when a pending write or the toxic chain still refers to it. An idle
 * connection costs one small buffer per side.
 *
 *   kernel ─read─▶ lent buffer ─view─▶ consume(view) → still referenced? ─yes─▶ lend a fresh buffer next time
 */
import { Socket, type OnReadOpts } from 'node:net';

const INITIAL_BYTES = 2 << 10;
const MAX_BYTES = 1 << 20;
/**
 * SHRINK_AFTER reads in a row, each SHRINK_RATIO times smaller than the buffer, shrink it (to 4× the last read, at
 * least INITIAL_BYTES). One tiny read is not enough: a bulk transfer on a busy machine has some, and regrowing
 * costs fresh pages (one loaded bench run with a shrink on every tiny read: 11,170 page faults per GB, against
 * 1,598 without).
 */
const SHRINK_RATIO = 64;
const SHRINK_AFTER = 16;

/**
 * onread options for net.connect. `consume` gets a view of the bytes just read and answers whether it keeps a
 * reference to them after returning (then the buffer is not reused).
 */
export function lendingReader(consume: (view: Buffer) => boolean): OnReadOpts {
  let buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  let tinyReads = 0;
  return {
    buffer: () => buffer,
    callback(bytes: number, lent: Uint8Array): boolean {
      const view = Buffer.from(lent.buffer, lent.byteOffset, bytes);
      const kept = consume(view);
      // Grow while reads fill the buffer; once at the maximum, keep reusing it (a fresh 1 MiB per read would cost
      // a page fault per 4 KiB: that was the main cost of a bulk transfer).
      const grow = bytes === lent.length && lent.length < MAX_BYTES;
      tinyReads = lent.length > INITIAL_BYTES && bytes * SHRINK_RATIO < lent.length ? tinyReads + 1 : 0;
      const shrink = tinyReads >= SHRINK_AFTER;
      if (shrink) tinyReads = 0;
      if (grow) buffer = Buffer.allocUnsafe(Math.min(lent.length * 4, MAX_BYTES));
      else if (shrink) buffer = Buffer.allocUnsafe(Math.max(INITIAL_BYTES, bytes * 4));
      else if (kept) buffer = Buffer.allocUnsafe(lent.length);
      return true;
    },
  };
}

/**
 * Gives an accepted client socket a lending reader. Node's server has no `onread` option (only net.connect
 * has), so the socket's TCP handle is moved to a new Socket created with one, paused until the connection
 * starts reading; the emptied original is destroyed, which releases its place in the server's count. Needs a
 * server created with `pauseOnConnect` (nothing may have been read yet). Where the handle is not what Node 20
 * has, the socket is returned unchanged and reads the usual way.
 */
export function adoptWithReader(socket: Socket, consume: (view: Buffer) => boolean): Socket {
  const holder = socket as unknown as { _handle?: { readStart?: unknown } | null };
  const handle = holder._handle;
  if (handle === null || handle === undefined || typeof handle.readStart !== 'function') return socket;
  holder._handle = null;
  // `handle` and `pauseOnCreate` are Node's own (child_process passes sockets this way), not in its typings.
  const adopted = new Socket({
    handle,
    allowHalfOpen: socket.allowHalfOpen,
    onread: lendingReader(consume),
    pauseOnCreate: true,
  } as ConstructorParameters<typeof Socket>[0]);
  socket.destroy();
  return adopted;
}
