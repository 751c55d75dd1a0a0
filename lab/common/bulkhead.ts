/**
 * Bulkheads: a fixed number of slots per pool (reads, writes) with a short bounded queue. This module alone owns
 * slot accounting. Why not cockatiel's `bulkhead()`: a waiter here gives up when its request's deadline does,
 * and the pools are resized live when the settings change.
 *
 *   acquire(pool) ── free slot ─▶ run ─▶ release (hands the slot to the oldest waiter)
 *                 ├─ queue has room ─▶ wait (until a slot frees or the deadline passes)
 *                 └─ queue full ──────▶ BulkheadFullError (the caller answers 503)
 */

/** No slot and no room to wait: the request is refused at once. */
export class BulkheadFullError extends Error {
  constructor(readonly pool: string) {
    super(`bulkhead ${pool} full`);
  }
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

/**
 * @example
 *   const release = await bulkhead.acquire(signal);
 *   try { … } finally { release(); }
 */
export class Bulkhead {
  #active = 0;
  readonly #waiters: Waiter[] = [];

  constructor(
    readonly name: string,
    public limit: number,
    public queue: number,
  ) {}

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves with the release function once a slot is held; rejects with BulkheadFullError or on `maxWaitMs`. */
  acquire(maxWaitMs = Infinity): Promise<() => void> {
    if (this.#active < this.limit && this.#waiters.length === 0) {
      this.#active += 1;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiters.length >= this.queue) return Promise.reject(new BulkheadFullError(this.name));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => resolve(this.#releaser()),
        reject,
      };
      if (Number.isFinite(maxWaitMs)) {
        waiter.timer = setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new BulkheadFullError(this.name));
        }, Math.max(0, maxWaitMs));
      }
      this.#waiters.push(waiter);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active -= 1;
      this.#drain();
    };
  }

  #drain(): void {
    while (this.#active < this.limit && this.#waiters.length > 0) {
      const next = this.#waiters.shift()!;
      clearTimeout(next.timer);
      this.#active += 1;
      next.resolve();
    }
  }

  /** New sizes take effect at once for new requests; holders keep their slots. */
  resize(limit: number, queue: number): void {
    this.limit = limit;
    this.queue = queue;
    this.#drain();
  }
}
