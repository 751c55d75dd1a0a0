/**
 * Monotonic time for everything that schedules. Wall-clock time (Date.now) is for records humans read;
 * due times, delays and rates are computed from this clock so a clock skew fault never bends them.
 */
import { performance } from 'node:perf_hooks';

/** Milliseconds on a monotonic clock, sub-millisecond resolution. */
export function now(): number {
  return performance.now();
}

/**
 * Resolves true once `ms` have elapsed, or false as soon as `signal` aborts (never rejects).
 * @example if (!(await sleep(100, ctrl.signal))) return; // interrupted
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, Math.ceil(ms)), true);
    function done(result: boolean): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(result);
    }
    function onAbort(): void {
      done(false);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
