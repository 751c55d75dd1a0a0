/**
 * A Link is one direction of one proxied connection: it reads chunks from its source socket, runs them through
 * the chain of toxics for its stream, and writes what comes out to the destination socket.
 *
 *   src socket ─data─▶ onData ─▶ [stub 1] ─▶ [stub 2] ─▶ … ─▶ Sink ─write─▶ dst socket
 *        ▲                                                        │
 *        └──── pause / resume (bytes held in the chain + dst's write buffer vs the high-water mark) ◀─┘
 *
 * With no toxic the chain is empty and onData writes a chunk straight to dst (no chunk object, no stage hop):
 * the zero-toxic fast path; the chain is entered again as soon as a toxic is added to this link.
 * Changes to the chain (add, update, remove) are applied one at a time per link and never wait on the network:
 * an update interrupts only the stub it touches; a removal interrupts the stub, splices it out and moves its
 * queued chunks, in order, to the next stage, so no byte is lost or reordered.
 */
import type { Socket } from 'node:net';
import { now } from '../core/clock.ts';
import { isMarker, type Item } from './chunk.ts';
import { Stub, type LinkControl, type Stage } from './stub.ts';
import type { Stream } from './toxic.ts';
import type { ToxicRecord } from './toxic-collection.ts';

/** Bytes a link may hold (in its chain plus the destination's write buffer) before it stops reading. */
const BASE_HIGH_WATER = 1 << 20;

/** Per-direction byte counters a proxy exports (read at scrape time, never touched through prom-client). */
export interface DirectionCounters {
  received: number;
  sent: number;
}

/** What a link needs from the connection it belongs to. */
export interface LinkOwner {
  endLink(link: Link, end: 'eof' | 'close' | 'reset'): void;
  close(): void;
}

export class Link implements LinkControl {
  readonly stubs: Stub[] = [];
  readonly #sink: Sink;
  #queued = 0;
  #paused = false;
  #highWater = BASE_HIGH_WATER;
  #mutations: Promise<void> = Promise.resolve();

  constructor(
    readonly owner: LinkOwner,
    readonly stream: Stream,
    readonly src: Socket,
    readonly dst: Socket,
    readonly counters: DirectionCounters,
    toxics: readonly ToxicRecord[],
  ) {
    this.#sink = new Sink(this);
    for (const toxic of toxics) this.#append(toxic);
    dst.on('drain', () => this.#maybeResume());
  }

  /** The reader: called for every chunk the source socket delivers. */
  readonly onData = (data: Buffer): void => {
    if (this.stubs.length === 0) {
      // Fast path: nothing can be held in an empty chain, so only the destination's buffer counts.
      this.counters.received += data.length;
      this.counters.sent += data.length;
      if (!this.dst.destroyed) this.dst.write(data);
      if (!this.#paused && this.#queued + this.dst.writableLength > this.#highWater) {
        this.#paused = true;
        this.src.pause();
      }
      return;
    }
    this.counters.received += data.length;
    this.#queued += data.length;
    this.#head().push({ data, t: now() });
    if (!this.#paused && this.#queued + this.dst.writableLength > this.#highWater) {
      this.#paused = true;
      this.src.pause();
    }
  };

  /**
   * The reader for a lent buffer (see reader.ts): with toxics the chain gets its own copy; without, the bytes go
   * straight to the destination and stay referenced only while that write is pending. Returns whether `view`
   * is still referenced.
   */
  readonly onBorrowed = (view: Buffer): boolean => {
    if (this.stubs.length > 0) {
      this.onData(Buffer.from(view));
      return false;
    }
    this.onData(view);
    return this.dst.writableLength > 0;
  };

  /** The source sent FIN: the end travels down the chain behind the data. */
  readonly onEnd = (): void => {
    this.#head().push({ end: 'eof' });
  };

  /** Bytes left the chain (written by the sink). */
  written(bytes: number): void {
    this.#queued -= bytes;
    this.counters.sent += bytes;
    if (this.#paused) this.#maybeResume();
  }

  discarded(bytes: number): void {
    this.#queued -= bytes;
    if (this.#paused) this.#maybeResume();
  }

  closeConnection(): void {
    this.owner.close();
  }

  addToxic(toxic: ToxicRecord): Promise<void> {
    return this.#mutate(() => {
      this.#append(toxic);
    });
  }

  updateToxic(toxic: ToxicRecord): Promise<void> {
    return this.#mutate(async () => {
      const stub = this.stubs.find((s) => s.name === toxic.name);
      if (stub === undefined) return;
      await stub.interrupt();
      stub.attrs = { ...toxic.attributes };
      stub.start(toxic.toxicity);
      this.#resizeHighWater();
    });
  }

  removeToxic(name: string): Promise<void> {
    return this.#mutate(async () => {
      const stub = this.stubs.find((s) => s.name === name);
      if (stub === undefined) return;
      await stub.interrupt();
      const index = this.stubs.indexOf(stub);
      const next: Stage = this.stubs[index + 1] ?? this.#sink;
      if (index > 0) this.stubs[index - 1].output = next;
      this.stubs.splice(index, 1);
      // Chunks the stub had not taken yet are newer than anything already downstream of it: append in order.
      for (const item of stub.input.drain()) next.push(item);
      this.#resizeHighWater();
      stub.def.onRemove?.(stub as never);
    });
  }

  /** Stops every stub's timers; the sockets are being destroyed. */
  dispose(): void {
    for (const stub of this.stubs) void stub.interrupt();
  }

  #append(toxic: ToxicRecord): void {
    const stub = new Stub(toxic.def, toxic.name, { ...toxic.attributes }, this, this.#sink);
    const last = this.stubs.at(-1);
    if (last !== undefined) last.output = stub;
    this.stubs.push(stub);
    stub.start(toxic.toxicity);
    this.#resizeHighWater();
  }

  #head(): Stage {
    return this.stubs.length > 0 ? this.stubs[0] : this.#sink;
  }

  #mutate(change: () => void | Promise<void>): Promise<void> {
    this.#mutations = this.#mutations.then(change, change);
    return this.#mutations;
  }

  #resizeHighWater(): void {
    let high = BASE_HIGH_WATER;
    for (const stub of this.stubs) high = Math.max(high, stub.def.bufferBytes ?? 0);
    this.#highWater = high;
    if (this.#paused) this.#maybeResume();
  }

  #maybeResume(): void {
    if (this.#paused && this.#queued + this.dst.writableLength <= this.#highWater / 2) {
      this.#paused = false;
      this.src.resume();
    }
  }
}

/** The end of the chain: writes chunks to the destination and turns end markers into socket actions. */
class Sink implements Stage {
  constructor(readonly link: Link) {}

  push(item: Item): void {
    if (isMarker(item)) {
      this.link.owner.endLink(this.link, item.end);
      return;
    }
    this.link.written(item.data.length);
    if (!this.link.dst.destroyed) this.link.dst.write(item.data);
  }
}
