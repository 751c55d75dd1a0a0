/**
 * Adaptive concurrency limits (ported from the formulas of Netflix's concurrency-limits, written here because no
 * npm port exists): this module alone owns the limit math and the admit/shed decision. A service sheds a request
 * early (503 + Retry-After) when its in-flight count reaches the limit, instead of queueing without bound.
 *
 *   request ─▶ tryAcquire() ── in flight < limit ──▶ permit ─▶ handler ─▶ permit.release(dropped?)
 *                         └── at the limit ────────▶ undefined (shed)          └─▶ algorithm.onSample(rtt, in flight, dropped)
 *
 * - AIMD: on a drop (or rtt > timeout) L ← ⌊0.9·L⌋; else if in flight·2 ≥ L, L ← L + 1; clamp to [min, max].
 * - Gradient2: per window (1 s, ≥ 10 samples) shortRtt = mean rtt; longRtt = EMA of shortRtt (decayed ×0.95 when
 *   longRtt/shortRtt > 2, so it recovers after a slow period); if in flight ≥ L/2:
 *   g = clamp(tolerance·longRtt/shortRtt, 0.5, 1), L ← (1 − s)·L + s·(L·g + queueSize).
 * Both take an injected `now()` so the math is tested with a fake clock.
 */

/** A limit algorithm: fed one sample per finished request. */
export interface LimitAlgorithm {
  readonly limit: number;
  onSample(rttMs: number, inflight: number, dropped: boolean): void;
}

export interface AimdOptions {
  initial: number;
  min: number;
  max: number;
  /** Multiplier on a drop (0.9). */
  backoffRatio?: number;
  /** An rtt above this counts as a drop (5 s). */
  timeoutMs?: number;
}

/** Additive increase, multiplicative decrease (the client-side recommendation). */
export class AimdLimit implements LimitAlgorithm {
  #limit: number;
  readonly #o: Required<AimdOptions>;

  constructor(options: AimdOptions) {
    this.#o = { backoffRatio: 0.9, timeoutMs: 5_000, ...options };
    this.#limit = clamp(options.initial, options.min, options.max);
  }

  get limit(): number {
    return this.#limit;
  }

  onSample(rttMs: number, inflight: number, dropped: boolean): void {
    let next = this.#limit;
    if (dropped || rttMs > this.#o.timeoutMs) next = Math.floor(next * this.#o.backoffRatio);
    else if (inflight * 2 >= next) next = next + 1;
    this.#limit = clamp(next, this.#o.min, this.#o.max);
  }
}

export interface Gradient2Options {
  initial: number;
  min: number;
  max: number;
  /** Weight of each new estimate (0.2). */
  smoothing?: number;
  /** Headroom added each update, so the limit can probe upwards (4). */
  queueSize?: number;
  /** How much slower than the long-term rtt is still "no queueing" (1.5). */
  tolerance?: number;
  /** Samples the long-term EMA spans (Netflix: 600; shorter suits minute-long experiments). */
  longWindow?: number;
  /** Window over which request rtts are averaged into one sample. */
  windowMs?: number;
  /** A window with fewer requests is extended. */
  minWindowSamples?: number;
  now?: () => number;
}

/** Gradient2: shrinks the limit when the short-term rtt rises above the long-term one (queueing). */
export class Gradient2Limit implements LimitAlgorithm {
  #limit: number;
  #longRtt = 0;
  #longSamples = 0;
  #windowStart: number;
  #windowSum = 0;
  #windowCount = 0;
  #windowMaxInflight = 0;
  readonly #o: Required<Gradient2Options>;

  constructor(options: Gradient2Options) {
    this.#o = {
      smoothing: 0.2,
      queueSize: 4,
      tolerance: 1.5,
      longWindow: 100,
      windowMs: 1_000,
      minWindowSamples: 10,
      now: () => performance.now(),
      ...options,
    };
    this.#limit = clamp(options.initial, options.min, options.max);
    this.#windowStart = this.#o.now();
  }

  get limit(): number {
    return Math.floor(this.#limit);
  }

  /** The long-term rtt estimate (ms), 0 before the first window. */
  get longRtt(): number {
    return this.#longRtt;
  }

  onSample(rttMs: number, inflight: number, _dropped: boolean): void {
    this.#windowSum += rttMs;
    this.#windowCount += 1;
    this.#windowMaxInflight = Math.max(this.#windowMaxInflight, inflight);
    const now = this.#o.now();
    if (now - this.#windowStart < this.#o.windowMs || this.#windowCount < this.#o.minWindowSamples) return;
    const shortRtt = this.#windowSum / this.#windowCount;
    const maxInflight = this.#windowMaxInflight;
    this.#windowStart = now;
    this.#windowSum = 0;
    this.#windowCount = 0;
    this.#windowMaxInflight = 0;
    this.update(shortRtt, maxInflight);
  }

  /** One windowed sample: exposed for tests and for callers that window themselves. */
  update(shortRtt: number, inflight: number): void {
    // EMA with a plain average over the first samples (a warm-up), as Netflix's ExpAvgMeasurement does.
    this.#longSamples += 1;
    if (this.#longSamples <= 10) this.#longRtt += (shortRtt - this.#longRtt) / this.#longSamples;
    else {
      const f = 2 / (this.#o.longWindow + 1);
      this.#longRtt = this.#longRtt * (1 - f) + shortRtt * f;
    }
    // After a slow spell the long rtt is inflated; decay it so the limit can recover quickly.
    if (shortRtt > 0 && this.#longRtt / shortRtt > 2) this.#longRtt *= 0.95;
    // Too little traffic to say anything about the limit.
    if (inflight < this.#limit / 2) return;
    const gradient = shortRtt <= 0 ? 1 : clamp((this.#o.tolerance * this.#longRtt) / shortRtt, 0.5, 1);
    const s = this.#o.smoothing;
    const next = (1 - s) * this.#limit + s * (this.#limit * gradient + this.#o.queueSize);
    this.#limit = clamp(next, this.#o.min, this.#o.max);
  }
}

/** A request admitted by the limiter; release it exactly once. */
export interface Permit {
  release(dropped?: boolean): void;
}

/**
 * Counts in-flight requests against an algorithm's limit.
 * @example
 *   const permit = limiter.tryAcquire();
 *   if (!permit) return shed();
 *   try { return await handle(); } finally { permit.release(); }
 */
export class ConcurrencyLimiter {
  #inflight = 0;

  constructor(
    readonly algorithm: LimitAlgorithm,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get inflight(): number {
    return this.#inflight;
  }

  get limit(): number {
    return this.algorithm.limit;
  }

  tryAcquire(): Permit | undefined {
    if (this.#inflight >= this.algorithm.limit) return undefined;
    this.#inflight += 1;
    const start = this.now();
    let done = false;
    return {
      release: (dropped = false) => {
        if (done) return;
        done = true;
        // The sample carries the in-flight count this request saw, itself included.
        this.algorithm.onSample(this.now() - start, this.#inflight, dropped);
        this.#inflight -= 1;
      },
    };
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
