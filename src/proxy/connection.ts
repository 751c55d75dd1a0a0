/**
 * A Connection is one client accepted by a proxy and its dial to the upstream: two sockets and two links.
 *
 *   client ──▶ Link 'upstream' (client → server toxics) ──▶ upstream socket
 *   client ◀── Link 'downstream' (server → client toxics) ◀── upstream socket
 *
 * A FIN from one side travels down its link behind the data and half-closes the other side; the sockets close
 * once both directions ended. Unlike toxiproxy (which turns a FIN into a full close), half-closed streams work.
 * An error on either socket, or an RST asked for by reset_peer, ends both at once. With TLS (tls.ts) a side's
 * socket is the TLS layer over a raw TCP socket: links read and write plaintext, an RST goes out on the raw one.
 */
import type { Socket } from 'node:net';
import { Link, type DirectionCounters, type LinkOwner } from './link.ts';
import type { Stream } from './toxic.ts';
import type { ToxicRecord } from './toxic-collection.ts';

export interface ConnectionHost {
  readonly counters: Readonly<Record<Stream, DirectionCounters>>;
  forget(conn: Connection): void;
}

/** The TCP sockets under the two sides, when a side speaks TLS (otherwise the sides are the TCP sockets). */
export interface RawSockets {
  client: Socket;
  upstream: Socket;
}

export class Connection implements LinkOwner {
  up: Link | undefined;
  down: Link | undefined;
  #disposed = false;
  /** The client sent FIN while the upstream dial was still in progress. */
  #clientEndedEarly = false;

  constructor(
    readonly host: ConnectionHost,
    readonly client: Socket,
    readonly upstream: Socket,
    readonly raw: RawSockets = { client, upstream },
  ) {
    for (const socket of [client, upstream]) {
      socket.on('error', this.#onError);
      socket.on('close', this.#onClose);
    }
    // Node emits 'end' for an empty, ended stream right away, listener or not: catch one that comes before start().
    client.once('end', () => {
      if (this.up === undefined) this.#clientEndedEarly = true;
    });
  }

  /** Called once the upstream dial succeeded. */
  start(upstreamToxics: readonly ToxicRecord[], downstreamToxics: readonly ToxicRecord[]): void {
    if (this.#disposed) return;
    const { client, upstream } = this;
    this.up = new Link(this, 'upstream', client, upstream, this.host.counters.upstream, upstreamToxics);
    this.down = new Link(this, 'downstream', upstream, client, this.host.counters.downstream, downstreamToxics);
    client.on('data', this.up.onData).on('end', this.up.onEnd);
    upstream.on('data', this.down.onData).on('end', this.down.onEnd);
    // The client was accepted paused (proxy.ts), so nothing it sent is read before its link exists.
    client.resume();
    if (this.#clientEndedEarly) this.up.onEnd();
  }

  link(stream: Stream): Link | undefined {
    return stream === 'upstream' ? this.up : this.down;
  }

  endLink(link: Link, end: 'eof' | 'close' | 'reset'): void {
    if (end === 'eof') link.dst.end();
    else if (end === 'close') this.close();
    else {
      // A TLS socket cannot send an RST itself: the TCP socket under it does.
      const rawDst = link.dst === this.client ? this.raw.client : this.raw.upstream;
      rawDst.resetAndDestroy();
      link.dst.destroy();
      link.src.destroy();
    }
  }

  /** Ends both sides gracefully: pending writes are flushed, then the sockets are destroyed. */
  close(): void {
    for (const socket of [this.client, this.upstream]) {
      if (!socket.destroyed) socket.end(() => socket.destroy());
    }
  }

  /** Ends both sides now (disable, delete, shutdown). */
  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
    this.raw.client.destroy();
    this.raw.upstream.destroy();
  }

  readonly #onError = (): void => {
    // ECONNRESET, EPIPE, ECONNREFUSED on dial: the connection is over; the client sees its end (EOF or RST).
    this.destroy();
  };

  readonly #onClose = (): void => {
    if (this.client.destroyed && this.upstream.destroyed) this.#dispose();
    else if (this.up === undefined) this.destroy(); // the dial failed or the client left before it finished
  };

  #dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.up?.dispose();
    this.down?.dispose();
    this.host.forget(this);
  }
}
