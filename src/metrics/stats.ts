/**
 * The statistics behind every comparison a verdict makes (docs/statistics.md explains the choices): Wilson score
 * intervals for one ratio, Newcombe's hybrid score interval for the difference of two ratios, a seeded, bounded
 * percentile bootstrap for the difference of two quantiles, exact order-statistic quantiles, and the rule for
 * how many observations a quantile needs before it is an estimate at all. Pure functions, no I/O, no clock.
 *
 *   counts (x of n) ─▶ wilson / newcombe ─┐
 *   values[]        ─▶ quantile / bootstrapQuantileDiff ─┴─▶ runner/evaluate (evidence per SLI and phase)
 */
import { mulberry32 } from '../core/random.ts';

/** The z for a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

/** A closed interval [lo, hi]. */
export type Interval = [number, number];

/**
 * Wilson score interval for a proportion x/n (95 % by default). Unlike the normal approximation it stays inside
 * [0, 1] and is sensible at x = 0 or x = n, which is exactly where error rates live.
 * @example wilson(0, 100) // [0, 0.037]
 */
export function wilson(x: number, n: number, z = Z95): Interval {
  if (n <= 0) return [0, 1];
  const p = x / n;
  const z2 = z * z;
  const den = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / den;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / den;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * Newcombe's hybrid score interval (his method 10) for p2 − p1, where p1 = x1/n1 and p2 = x2/n2: built from the
 * two Wilson intervals, so it inherits their good behaviour at 0 and 1.
 * @example newcombe(0, 200, 180, 200) // ≈ [0.85, 0.93]: the second rate is higher, surely
 */
export function newcombe(x1: number, n1: number, x2: number, n2: number, z = Z95): Interval {
  if (n1 <= 0 || n2 <= 0) return [-1, 1];
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const [l1, u1] = wilson(x1, n1, z);
  const [l2, u2] = wilson(x2, n2, z);
  const d = p2 - p1;
  const lo = d - Math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2);
  const hi = d + Math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2);
  return [Math.max(-1, lo), Math.min(1, hi)];
}

/**
 * The q-quantile of `sorted` (ascending) by nearest rank: an observed value, never an interpolation.
 * @example quantileSorted([1, 2, 3, 4], 0.5) // 2
 */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil(q * n)));
  return sorted[rank - 1];
}

/** The q-quantile of unsorted values (copies, sorts). */
export function quantile(values: readonly number[], q: number): number {
  return quantileSorted(Float64Array.from(values).sort(), q);
}

/**
 * How many observations the q-quantile needs before the sample's quantile is an estimate rather than its maximum:
 * at least `tail` expected observations beyond it, n ≥ tail / (1 − q). p99 → 100, p95 → 20, p50 → 2.
 * @example minSampleForQuantile(0.99) // 100
 */
export function minSampleForQuantile(q: number, tail = 1): number {
  return Math.ceil(tail / (1 - q) - 1e-9);
}


export interface BootstrapOptions {
  /** Resamples (default 400). */
  resamples?: number;
  /** Each side is first thinned to at most this many values, evenly over its sorted order (default 2000). */
  max_n?: number;
  seed?: number;
}

/**
 * Percentile-bootstrap interval (95 %) for quantile_q(b) − quantile_q(a). Seeded (same data → same interval) and
 * bounded: at most `resamples` × (|a| + |b|) draws after thinning each side to `max_n` values, so a long run costs
 * a few milliseconds. Null when either side is empty.
 * @example bootstrapQuantileDiff(baselineMs, faultMs, 0.99).ci // [1180, 1530]
 */
export function bootstrapQuantileDiff(a: readonly number[], b: readonly number[], q: number, opts: BootstrapOptions = {}): { diff: number; ci: Interval } | null {
  if (a.length === 0 || b.length === 0) return null;
  const B = opts.resamples ?? 400;
  const max = opts.max_n ?? 2000;
  const thin = (v: readonly number[]): Float64Array => {
    const s = Float64Array.from(v).sort();
    if (s.length <= max) return s;
    // Evenly spaced order statistics keep the distribution's shape (and its tail) at a fraction of the cost.
    return Float64Array.from({ length: max }, (_, k) => s[Math.floor(((k + 0.5) * s.length) / max)]);
  };
  const sa = thin(a);
  const sb = thin(b);
  const diff = quantileSorted(sb, q) - quantileSorted(sa, q);
  const rnd = mulberry32(opts.seed ?? 0x5eed);
  const ra = new Float64Array(sa.length);
  const rb = new Float64Array(sb.length);
  const diffs = new Float64Array(B);
  for (let k = 0; k < B; k++) {
    for (let j = 0; j < sa.length; j++) ra[j] = sa[Math.floor(rnd() * sa.length)];
    for (let j = 0; j < sb.length; j++) rb[j] = sb[Math.floor(rnd() * sb.length)];
    ra.sort();
    rb.sort();
    diffs[k] = quantileSorted(rb, q) - quantileSorted(ra, q);
  }
  diffs.sort();
  return { diff, ci: [quantileSorted(diffs, 0.025), quantileSorted(diffs, 0.975)] };
}
