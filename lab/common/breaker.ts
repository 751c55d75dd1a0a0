/**
 * The circuit breaker on a dependency (cockatiel 3.x underneath): this module alone maps its states to the
 * `lab_breaker_state` metric and decides what counts as a failure. Opens when `failure_ratio` of the last
 * `window` calls failed (with at least `min_calls`), stays open `half_open_after_ms`, then lets one probe
 * through (half-open): success closes it, failure opens it again.
 *
 *   closed ──(ratio ≥ threshold)──▶ open ──(half_open_after_ms)──▶ half-open ──probe ok──▶ closed
 *                                     ▲                                  └──probe failed──┘
 */
import { BrokenCircuitError, CircuitState, circuitBreaker, CountBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import type { MitigationMetrics } from './mitigations-metrics.ts';
import type { BreakerSettings } from './mitigations.ts';

/** A call that reached the dependency and failed in a way the breaker should count (5xx, timeout, no answer). */
export class DependencyError extends Error {
  constructor(
    readonly dependency: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The breaker refused the call: the dependency was not contacted. */
export { BrokenCircuitError };

const TRANSITIONS = ['open', 'half_open', 'closed'] as const;

/** State as exported: 0 closed, 1 half-open, 2 open (isolated counts as open). */
export function stateValue(state: CircuitState): 0 | 1 | 2 {
  return state === CircuitState.Closed ? 0 : state === CircuitState.HalfOpen ? 1 : 2;
}

/**
 * @example
 *   const breaker = new Breaker('payments', settings, metrics);
 *   const res = await breaker.execute(() => chargeOnce());   // throws BrokenCircuitError while open
 */
export class Breaker {
  readonly #policy: CircuitBreakerPolicy;

  constructor(
    readonly dependency: string,
    settings: BreakerSettings,
    private readonly metrics: MitigationMetrics,
  ) {
    // Every thrown error counts except a refusal by this breaker itself; callers turn 5xx answers into DependencyError.
    this.#policy = circuitBreaker(
      handleWhen((err) => !(err instanceof BrokenCircuitError)),
      {
        halfOpenAfter: settings.half_open_after_ms,
        breaker: new CountBreaker({ threshold: settings.failure_ratio, size: settings.window, minimumNumberOfCalls: Math.min(settings.min_calls, settings.window) }),
      },
    );
    metrics.breakerState.set({ dependency }, 0);
    metrics.breakerRejections.inc({ dependency }, 0);
    for (const to of TRANSITIONS) metrics.breakerTransitions.inc({ dependency, to }, 0);
    this.#policy.onStateChange((s) => {
      const value = stateValue(s);
      metrics.breakerState.set({ dependency }, value);
      const to = TRANSITIONS[value === 0 ? 2 : value === 1 ? 1 : 0];
      metrics.breakerTransitions.inc({ dependency, to });
      // One log event per change, so a run's service log shows when the breaker opened and closed.
      process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), event: 'breaker', service: process.env.LAB_SERVICE, dependency, to })}\n`);
    });
  }

  get state(): 0 | 1 | 2 {
    return stateValue(this.#policy.state);
  }

  async execute<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.#policy.execute(fn);
    } catch (err) {
      if (err instanceof BrokenCircuitError) this.metrics.breakerRejections.inc({ dependency: this.dependency });
      throw err;
    }
  }

  /** Stops exporting this breaker's state (it is being replaced). */
  dispose(): void {
    this.metrics.breakerState.set({ dependency: this.dependency }, 0);
  }
}
