/**
 * Latency histograms: HdrHistogram (hdr-histogram-js) recording integer microseconds, 3 significant digits
 * (±0.1 %), auto-resizing so a multi-second stall is recorded exactly rather than clipped. Plain JS int32
 * buckets: ~10 M records/s is far beyond what a generator needs, and they need no destroy().
 */
import { build, type Histogram } from 'hdr-histogram-js';

export type { Histogram };

/** @example const h = newHistogram(); h.recordValue(1234); // 1.234 ms */
export function newHistogram(): Histogram {
  return build({ bitBucketSize: 32, autoResize: true, lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3 });
}

/** The percentiles every report shows, in ms. */
export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const ms = (us: number): number => Math.round(us) / 1000;

/**
 * Percentiles of a µs histogram, in ms; all zero when it is empty.
 * @example percentiles(h).p99 // 23.1
 */
export function percentiles(h: Histogram): Percentiles {
  if (h.totalCount === 0) return { p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
  };
}

/** Percentiles plus the mean, for end-of-run summaries. */
export function distribution(h: Histogram): Percentiles & { mean: number; count: number } {
  return { ...percentiles(h), mean: h.totalCount === 0 ? 0 : ms(h.mean), count: h.totalCount };
}
