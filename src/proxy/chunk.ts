/**
 * What moves down a link: chunks of bytes stamped with their arrival time, and end markers.
 * A chunk's `t` is the monotonic time it became available to the next stage, so a latency toxic sleeps only for
 * what is left of its delay (pipelining) and two latency toxics add up.
 */

export interface Chunk {
  data: Buffer;
  /** Monotonic ms (core/clock.now) when the chunk arrived at, or was released towards, the next stage. */
  t: number;
}

/**
 * End of this direction. `eof` half-closes the destination (the source sent FIN); `close` ends the whole
 * connection gracefully (limit_data, timeout); `reset` aborts it with an RST to the destination (reset_peer).
 */
export interface Marker {
  readonly end: 'eof' | 'close' | 'reset';
}

export type Item = Chunk | Marker;

export const EOF: Marker = Object.freeze({ end: 'eof' });
export const CLOSE: Marker = Object.freeze({ end: 'close' });
export const RESET: Marker = Object.freeze({ end: 'reset' });

export function isMarker(item: Item): item is Marker {
  return (item as Marker).end !== undefined;
}

/** A FIFO that stays O(1) per operation (Array#shift is O(n) on long queues). */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    const out = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return out;
  }
}
