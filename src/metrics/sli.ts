/**
 * SLI math over the series store: counter increases (reset-aware), rates, error ratios, availability and
 * quantiles from cumulative histogram buckets with Prometheus' `histogram_quantile` semantics. This module alone
 * owns those formulas; it only reads the store. Every function takes a window (t0, t1] in epoch ms.
 *
 *   store ─▶ increase / windowHistogram ─▶ histogramQuantile · ratio ─▶ numbers the runner compares to SLOs
 */
import type { LabelMatch, Series, SeriesStore } from './store.ts';

/** One cumulative bucket: observations ≤ `le`. */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * The value of `series` at time `t` (the last point at or before t), or undefined before its first point.
 * @example valueAt(series, Date.now())
 */
export function valueAt(series: Series, t: number): number | undefined {
  const p = series.points;
  let lo = 0;
  let hi = p.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (p[mid][0] <= t) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found < 0 ? undefined : p[found][1];
}

/**
 * How much a counter grew over (t0, t1]. A drop in value is a counter reset (a restarted process): the new value
 * counts from zero, as Prometheus' `increase` does (without its extrapolation: we see every scrape). A series
 * first seen inside the window counts from zero too — a label set prom-client creates on its first observation.
 * @example increase(store.select('lab_http_request_duration_seconds_count', { service: 'api' })[0], t0, t1)
 */
export function increase(series: Series, t0: number, t1: number): number {
  let prev = valueAt(series, t0);
  let total = 0;
  for (const [t, v] of series.points) {
    if (t <= t0) continue;
    if (t > t1) break;
    if (prev === undefined) total += v;
    else total += v >= prev ? v - prev : v;
    prev = v;
  }
  return total;
}

/** Sum of `increase` over every series `name` matching `match`. */
export function sumIncrease(store: SeriesStore, name: string, match: LabelMatch, t0: number, t1: number): number {
  let total = 0;
  for (const s of store.select(name, match)) total += increase(s, t0, t1);
  return total;
}

/** Per-second rate of a counter family over (t0, t1]. */
export function rate(store: SeriesStore, name: string, match: LabelMatch, t0: number, t1: number): number {
  return t1 > t0 ? sumIncrease(store, name, match, t0, t1) / ((t1 - t0) / 1000) : 0;
}

/**
 * The cumulative buckets of histogram `base` (series `<base>_bucket`) that grew over (t0, t1], summed across every
 * matching series (e.g. all statuses of one route) — the window's own histogram, like `increase(x_bucket[w])`.
 */
export function windowHistogram(store: SeriesStore, base: string, match: LabelMatch, t0: number, t1: number): Bucket[] {
  const byLe = new Map<number, number>();
  for (const s of store.select(`${base}_bucket`, match)) {
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    if (Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + increase(s, t0, t1));
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/**
 * The φ-quantile of a cumulative histogram with `histogram_quantile` semantics: linear interpolation inside the
 * bucket holding the rank, the lowest bucket starting at 0 (when its bound is positive), a rank in the +Inf bucket
 * answering the highest finite bound, NaN without observations or without a +Inf bucket; φ < 0 → -Inf, φ > 1 → +Inf.
 * Non-monotonic counts (scrape races between bucket series) are lifted to their running maximum, as Prometheus does.
 * @example histogramQuantile(0.5, [{ le: 0.1, count: 5 }, { le: 0.2, count: 10 }, { le: Infinity, count: 10 }]) // 0.1
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const b = [...buckets].sort((x, y) => x.le - y.le);
  if (b.length < 2 || b.at(-1)!.le !== Infinity) return NaN;
  for (let i = 1; i < b.length; i++) if (b[i].count < b[i - 1].count) b[i] = { le: b[i].le, count: b[i - 1].count };
  const total = b.at(-1)!.count;
  if (total === 0) return NaN;
  const rank = q * total;
  let i = b.findIndex((x) => x.count >= rank);
  if (i < 0) i = b.length - 1;
  if (i === b.length - 1) return b[b.length - 2].le;
  if (i === 0 && b[0].le <= 0) return b[0].le;
  const start = i === 0 ? 0 : b[i - 1].le;
  const below = i === 0 ? 0 : b[i - 1].count;
  const inBucket = b[i].count - below;
  if (inBucket === 0) return b[i].le;
  return start + (b[i].le - start) * ((rank - below) / inBucket);
}

/** Observations in a window histogram (its +Inf bucket). */
export function histogramCount(buckets: readonly Bucket[]): number {
  return buckets.find((b) => b.le === Infinity)?.count ?? 0;
}

/**
 * A ratio of two counter families over (t0, t1]: errors / total, or NaN when nothing happened.
 * @example ratio(store, 'x_count', { status: (s) => s >= '500' }, 'x_count', {}, t0, t1)
 */
export function ratio(store: SeriesStore, num: string, numMatch: LabelMatch, den: string, denMatch: LabelMatch, t0: number, t1: number): number {
  const d = sumIncrease(store, den, denMatch, t0, t1);
  return d > 0 ? sumIncrease(store, num, numMatch, t0, t1) / d : NaN;
}

/** A status label that counts as a server error (5xx). */
export const isServerError = (status: string): boolean => /^5\d\d$/.test(status);
