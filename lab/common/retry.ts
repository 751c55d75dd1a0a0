/**
 * Retries: this module alone decides whether a failed attempt is tried again. A retry is sent only when the
 * caller says the call is safe to repeat (idempotent, or carrying an idempotency key the callee dedupes on),
 * the error is retryable, attempts remain, the request's deadline leaves room for the backoff, and the retry
 * budget has a token — in that order, so a dead dependency costs at most budget-share extra load.
 *
 *   attempt ─▶ ok ─▶ done
 *      └─fail─▶ retryable? ─▶ attempts left? ─▶ deadline room for backoff? ─▶ budget token? ─▶ sleep(backoff) ─▶ attempt
 *                  (any "no" rethrows the last error)
 */
import { DecorrelatedJitter } from './backoff.ts';
import type { Deadline } from './deadline.ts';
import type { MitigationMetrics } from './mitigations-metrics.ts';
import type { RetryBudget } from './retry-budget.ts';
import type { RetrySettings } from './mitigations.ts';

export interface RetryOptions {
  dependency: string;
  settings: RetrySettings;
  budget: RetryBudget;
  deadline: Deadline;
  /** Whether an error may be retried (the caller knows which failures are safe and useful to repeat). */
  retryable: (err: unknown) => boolean;
  metrics: MitigationMetrics;
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `attempt(n)` (n from 1) until it succeeds or a retry is not allowed; rethrows the last error.
 * @example await withRetries({ dependency: 'payments', settings, budget, deadline, retryable, metrics }, () => charge());
 */
export async function withRetries<T>(options: RetryOptions, attempt: (n: number) => Promise<T>): Promise<T> {
  const { dependency, settings, budget, deadline, metrics } = options;
  const sleep = options.sleep ?? realSleep;
  const backoff = new DecorrelatedJitter({ baseMs: settings.base_ms, maxMs: settings.max_ms, random: options.random });
  budget.deposit();
  metrics.retryRequests.inc({ dependency });
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!options.retryable(err) || n >= settings.max_attempts) throw err;
      const delay = backoff.next();
      // A retry that cannot finish inside the deadline only adds load (a minimum useful attempt is ~10 ms).
      if (deadline.remaining() < delay + 10) {
        metrics.deadlineExceeded.inc({ step: `retry_${dependency}` });
        throw err;
      }
      if (!budget.tryWithdraw()) {
        metrics.budgetExhausted.inc({ dependency });
        throw err;
      }
      metrics.retries.inc({ dependency });
      await sleep(delay);
    }
  }
}
