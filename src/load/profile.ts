/**
 * The rate plan every executor produces: piecewise-linear rate segments over time, and the two maps the scheduler
 * needs — expected arrivals by time t (N(t)) and its inverse (the time of the n-th arrival).
 *
 *   rate ▲      ┌──────            N(t) = ∫ rate;   arrival i is due at N⁻¹(Sᵢ),
 *        │    ／                   where Sᵢ = i (uniform) or a sum of unit exponentials (Poisson),
 *        │  ／                     so one formula serves constant, ramping and stepped plans.
 *        └───────────▶ t
 */

export interface Segment {
  /** Offset of the segment's start from t0, ms. */
  readonly start_ms: number;
  readonly duration_ms: number;
  readonly from_rps: number;
  readonly to_rps: number;
}

/**
 * A rate plan. Times are ms from the run's start; rates are requests per second.
 * @example
 *   const p = new RateProfile([{ start_ms: 0, duration_ms: 1000, from_rps: 0, to_rps: 100 }]);
 *   p.count(1000); // 50 arrivals expected over a 0→100 ramp of 1 s
 */
export class RateProfile {
  readonly segments: readonly Segment[];
  readonly total_ms: number;
  /** Cumulative expected arrivals at each segment's start (one more entry: the total). */
  readonly #cum: number[];
  #cursor = 0;

  constructor(segments: Segment[]) {
    this.segments = segments;
    this.#cum = [0];
    let t = 0;
    for (const s of segments) {
      t = s.start_ms + s.duration_ms;
      this.#cum.push(this.#cum[this.#cum.length - 1] + ((s.from_rps + s.to_rps) / 2) * (s.duration_ms / 1000));
    }
    this.total_ms = t;
  }

  /** Builds contiguous segments from a list of (duration, from, to). */
  static of(parts: ReadonlyArray<{ duration_ms: number; from_rps: number; to_rps: number }>): RateProfile {
    let start = 0;
    const segs: Segment[] = [];
    for (const p of parts) {
      segs.push({ start_ms: start, ...p });
      start += p.duration_ms;
    }
    return new RateProfile(segs);
  }

  /** Expected arrivals over the whole plan. */
  get expected(): number {
    return this.#cum[this.#cum.length - 1];
  }

  /**
   * Index of the segment active at t (the last one for t past the end). Binary search: a staircase with no top
   * has tens of thousands of steps, and this runs every second on the engine's timer.
   */
  segmentAt(t_ms: number): number {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const s = segs[mid];
      if (t_ms < s.start_ms + s.duration_ms) hi = mid;
      else lo = mid + 1;
    }
    return Math.max(0, lo);
  }

  /** Planned rate at t, req/s. */
  rateAt(t_ms: number): number {
    const s = this.segments[this.segmentAt(t_ms)];
    if (!s || s.duration_ms === 0) return 0;
    const f = Math.min(1, Math.max(0, (t_ms - s.start_ms) / s.duration_ms));
    return s.from_rps + (s.to_rps - s.from_rps) * f;
  }

  /** Expected arrivals in [0, t). */
  count(t_ms: number): number {
    const k = this.segmentAt(t_ms);
    const s = this.segments[k];
    const tau = Math.min(Math.max(0, t_ms - s.start_ms), s.duration_ms);
    const slope = s.duration_ms > 0 ? (s.to_rps - s.from_rps) / s.duration_ms : 0;
    return this.#cum[k] + (s.from_rps * tau + (slope * tau * tau) / 2) / 1000;
  }

  /**
   * The time at which the cumulative expected count reaches n, or undefined when n lies past the plan's end.
   * Calls must come with non-decreasing n (the scheduler's order): a cursor makes each call O(1).
   */
  timeOf(n: number): number | undefined {
    const last = this.segments.length - 1;
    while (this.#cursor <= last && n >= this.#cum[this.#cursor + 1]) this.#cursor++;
    if (this.#cursor > last) return undefined;
    const k = this.#cursor;
    const s = this.segments[k];
    const x = n - this.#cum[k];
    if (x <= 0) return s.start_ms;
    // Solve a·τ² + b·τ = x for τ, written so that a → 0 (a flat segment) needs no special case.
    const b = s.from_rps / 1000;
    const a = (s.to_rps - s.from_rps) / (2 * s.duration_ms * 1000);
    const tau = (2 * x) / (b + Math.sqrt(b * b + 4 * a * x));
    return s.start_ms + Math.min(tau, s.duration_ms);
  }

  /** A fresh copy with its cursor at the start (the cursor is per schedule walk). */
  clone(): RateProfile {
    return new RateProfile([...this.segments]);
  }
}
