/**
 * A Stub is one toxic running on one link: its input queue, its output (the next stage), its per-link state and
 * the interrupt that ends its pipe loop when the toxic is updated or removed. A toxic only ever waits through its
 * stub, which is how every wait stays interruptible.
 *
 *   prev stage ──push()──▶ [input fifo] ──next()──▶ toxic.pipe ──send()──▶ output.push()
 *                                                      ▲ interrupt(): pending next()/sleep resolve at once
 */
import { now } from '../core/clock.ts';
import { Fifo, isMarker, type Chunk, type Item, type Marker } from './chunk.ts';
import type { Stream, ToxicDefinition } from './toxic.ts';

export const INTERRUPTED: unique symbol = Symbol('interrupted');

/** Anything a stage can push into: the next stub or the link's sink. */
export interface Stage {
  push(item: Item): void;
}

/** What a stub may ask of the link it runs on. */
export interface LinkControl {
  readonly stream: Stream;
  /** Bytes the chain let go of without writing them (dropped by timeout, reset_peer, limit_data). */
  discarded(bytes: number): void;
  /** Ends the whole connection now, without waiting for data in the chain. */
  closeConnection(): void;
}

export class Stub<A = Record<string, number>, S = unknown> implements Stage {
  readonly input = new Fifo<Item>();
  output: Stage;
  attrs: A;
  readonly state: S;
  /** True once an end marker went through: the pipe has nothing more to do on this link. */
  done = false;
  /** True when the last toxicity roll made this stub run the toxic (false: it runs as a noop). */
  active = false;
  running: Promise<void> = Promise.resolve();

  #interrupted = false;
  #waiter: ((item: Item | typeof INTERRUPTED) => void) | null = null;
  #sleeper: { timer: NodeJS.Timeout | NodeJS.Immediate; resolve: (ok: boolean) => void } | null = null;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly def: ToxicDefinition,
    readonly name: string,
    attrs: A,
    readonly link: LinkControl,
    output: Stage,
  ) {
    this.attrs = attrs;
    this.output = output;
    this.state = (def.initState?.() ?? undefined) as S;
  }

  get interrupted(): boolean {
    return this.#interrupted;
  }

  /** Called by the previous stage. Input reaching a finished stub is let go (the link is closing). */
  push(item: Item): void {
    if (this.done) {
      if (!isMarker(item)) this.link.discarded(item.data.length);
      return;
    }
    const waiter = this.#waiter;
    if (waiter !== null && this.input.length === 0) {
      this.#waiter = null;
      waiter(item);
    } else {
      this.input.push(item);
    }
  }

  /** The next item, or INTERRUPTED when the stub is being updated or removed. */
  next(): Promise<Item | typeof INTERRUPTED> {
    if (this.#interrupted) return Promise.resolve(INTERRUPTED);
    const item = this.input.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** Forwards an item; an end marker finishes this stub. */
  send(item: Item): void {
    if (isMarker(item)) this.done = true;
    this.output.push(item);
  }

  /** Forwards a chunk stamped with the time it leaves this toxic. */
  release(chunk: Chunk, t = now()): void {
    chunk.t = t;
    this.send(chunk);
  }

  /** Lets a chunk go without forwarding it (the toxic models data loss). */
  discard(chunk: Chunk): void {
    this.link.discarded(chunk.data.length);
  }

  /** Forwards an end marker: the stub is finished and its pipe should return. */
  end(marker: Marker): void {
    this.send(marker);
  }

  /**
   * Resolves true at monotonic time `due`, or false at once if the stub is interrupted. Waits that never end
   * (a black hole) pass Infinity.
   *
   * Node timers have whole-millisecond granularity and fire late, so the timer is set for the whole
   * milliseconds left and the last fraction is waited out on setImmediate: the delay lands within ~0.1 ms of due
   * on an idle loop, at the cost of under a millisecond of polling per sleep.
   */
  sleepUntil(due: number): Promise<boolean> {
    if (this.#interrupted) return Promise.resolve(false);
    if (due - now() <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (): void => {
        const left = due - now();
        if (left > 1) {
          this.#sleeper = { timer: setTimeout(finish, Math.min(Math.floor(left), 2 ** 31 - 1)), resolve };
        } else if (left > 0.02) {
          this.#sleeper = { timer: setImmediate(finish), resolve };
        } else {
          this.#sleeper = null;
          resolve(true);
        }
      };
      finish();
    });
  }

  /**
   * Like sleepUntil, but exact and never synchronous: resolves true on a later event-loop turn once now() ≥ due,
   * so whatever the toxic sent before has been written to the socket on its own (a segment of its own with
   * TCP_NODELAY) before the next send. Sub-millisecond waits spin on setImmediate; false at once on interrupt.
   */
  pauseUntil(due: number): Promise<boolean> {
    if (this.#interrupted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (): void => {
        const left = due - now();
        if (left > 1) {
          this.#sleeper = { timer: setTimeout(finish, Math.min(Math.floor(left), 2 ** 31 - 1)), resolve };
        } else if (left > 0) {
          this.#sleeper = { timer: setImmediate(finish), resolve };
        } else {
          this.#sleeper = null;
          resolve(true);
        }
      };
      this.#sleeper = { timer: setImmediate(finish), resolve };
    });
  }

  /** Runs `fn` after `ms` unless the stub is interrupted or the link ends first. */
  after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  /** (Re)starts the pipe loop, rolling toxicity once for this link as toxiproxy does. */
  start(toxicity: number): void {
    this.#interrupted = false;
    if (this.done) return;
    this.active = Math.random() < toxicity;
    this.running = this.#run();
  }

  async #run(): Promise<void> {
    try {
      await (this.active ? this.def.pipe(this as never) : passThrough(this));
    } catch (err) {
      // A toxic that throws must not lose the stream: fall back to passing data through untouched.
      process.emitWarning(`toxic ${this.name} failed on a link and now passes data through: ${String(err)}`);
      if (!this.#interrupted) await passThrough(this);
    }
  }

  /** Ends the pipe loop (its held chunk is flushed by the toxic); resolves when the loop has returned. */
  interrupt(): Promise<void> {
    this.#interrupted = true;
    this.#clearTimers();
    const waiter = this.#waiter;
    if (waiter !== null) {
      this.#waiter = null;
      waiter(INTERRUPTED);
    }
    const sleeper = this.#sleeper;
    if (sleeper !== null) {
      this.#sleeper = null;
      clearTimeout(sleeper.timer as NodeJS.Timeout);
      clearImmediate(sleeper.timer as NodeJS.Immediate);
      sleeper.resolve(false);
    }
    return this.running;
  }

  #clearTimers(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }
}

/** The loop a stub runs when its toxicity roll fails, and what `noop` runs. */
export async function passThrough(stub: Stub<unknown, unknown>): Promise<void> {
  for (;;) {
    const item = await stub.next();
    if (item === INTERRUPTED) return;
    stub.send(item);
    if (isMarker(item)) return;
  }
}
