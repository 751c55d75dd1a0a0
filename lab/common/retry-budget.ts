/**
 * A retry budget (Finagle's RetryBudget, Envoy's retry_budget): this module alone decides whether a retry may
 * be sent, so that retries stay a bounded share of the traffic however badly a dependency fails.
 *
 * A token bucket whose deposits expire: every request (first attempt) deposits `percent` of a token, every
 * retry withdraws one, and only what was deposited within the last `ttl` seconds counts. A floor of
 * `minPerSec × ttl` tokens lets a quiet service still retry now and then.
 *
 *   allowed retries in any ttl window ≤ percent × requests in that window + minPerSec × ttl
 *
 * Counts are kept per second in a ring of `ttl` slots, so the cost is O(1) per call and O(ttl) per check.
 */

export interface RetryBudgetOptions {
  /** Share of requests that may be retried, in [0, 1] (Finagle and Envoy default to 0.2). */
  percent: number;
  /** Retries per second allowed regardless of traffic (the floor). */
  minPerSec: number;
  /** Seconds a deposit stays valid (Finagle: 1–60, default 10). */
  ttlS: number;
  /** Monotonic milliseconds; injectable for tests. */
  now?: () => number;
}

/**
 * @example
 *   const budget = new RetryBudget({ percent: 0.2, minPerSec: 3, ttlS: 10 });
 *   budget.deposit();                    // on every request
 *   if (budget.tryWithdraw()) retry();   // before every retry
 */
export class RetryBudget {
  readonly #percent: number;
  readonly #floor: number;
  readonly #ttl: number;
  readonly #now: () => number;
  /** Per-second slots, indexed by second % ttl; `#second[i]` says which second slot i holds. */
  readonly #deposits: number[];
  readonly #withdrawals: number[];
  readonly #second: number[];

  constructor(options: RetryBudgetOptions) {
    this.#percent = Math.min(1, Math.max(0, options.percent));
    this.#ttl = Math.max(1, Math.round(options.ttlS));
    this.#floor = Math.max(0, options.minPerSec) * this.#ttl;
    this.#now = options.now ?? (() => performance.now());
    this.#deposits = new Array<number>(this.#ttl).fill(0);
    this.#withdrawals = new Array<number>(this.#ttl).fill(0);
    this.#second = new Array<number>(this.#ttl).fill(-Infinity);
  }

  /** Records one request (a first attempt). */
  deposit(): void {
    this.#deposits[this.#slot()] += 1;
  }

  /** Takes one retry token if the budget has one; false means "do not retry". */
  tryWithdraw(): boolean {
    this.#slot();
    if (this.balance() < 1) return false;
    this.#withdrawals[this.#slot()] += 1;
    return true;
  }

  /** Retries still allowed now (may be fractional). */
  balance(): number {
    const s = this.#currentSecond();
    let deposits = 0;
    let withdrawals = 0;
    for (let i = 0; i < this.#ttl; i++) {
      if (s - this.#second[i] >= this.#ttl) continue; // expired
      deposits += this.#deposits[i];
      withdrawals += this.#withdrawals[i];
    }
    return this.#floor + this.#percent * deposits - withdrawals;
  }

  #currentSecond(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** The slot for this second, cleared if it last held an older second. */
  #slot(): number {
    const s = this.#currentSecond();
    const i = ((s % this.#ttl) + this.#ttl) % this.#ttl;
    if (this.#second[i] !== s) {
      this.#second[i] = s;
      this.#deposits[i] = 0;
      this.#withdrawals[i] = 0;
    }
    return i;
  }
}
