/**
 * Graceful degradation helpers: this module alone owns the decisions "answer with less instead of failing".
 * - Payments failing or breaker open: the order is accepted as `payment_pending` (202) and handed to the worker
 *   at once (`pendingReply`), instead of a 502 after a long wait.
 * - Replica lagging: `ReplicaLag` reads the replay lag that lab/common/replication.ts already polls (from this
 *   process's registry, so no second poller) and says whether a read should go to the primary or be marked stale.
 */
import type client from 'prom-client';
import type { Reply } from './http.ts';
import type { ReplicaLagSettings } from './mitigations.ts';

/** The degraded answer to POST /orders: accepted, to be settled by the worker. */
export function pendingReply(id: number, reason: string): Reply {
  return { status: 202, body: { id, status: 'payment_pending' }, headers: { 'x-lab-degraded': reason } };
}

export type ReadPlan = 'replica' | 'primary' | 'replica_marked';

/**
 * The replica's lag as last polled. Refreshed every `intervalMs` in the background (a read never waits on it).
 * @example const lag = new ReplicaLag(metrics.registry); … lag.plan(settings)
 */
export class ReplicaLag {
  #seconds = 0;
  /** false when the last poll of the primary failed: the lag is unknown. */
  #known = true;
  readonly #timer: NodeJS.Timeout;

  constructor(
    private readonly registry: client.Registry,
    intervalMs = 500,
  ) {
    this.#timer = setInterval(() => void this.refresh(), intervalMs);
    this.#timer.unref();
  }

  get seconds(): number {
    return this.#seconds;
  }

  async refresh(): Promise<void> {
    const lag = this.registry.getSingleMetric('lab_replication_lag_seconds');
    const up = this.registry.getSingleMetric('lab_replication_lag_up');
    if (!lag || !up) return;
    const [lagValues, upValues] = await Promise.all([lag.get(), up.get()]);
    this.#known = (upValues.values[0]?.value ?? 0) === 1;
    // No row means no replica streaming: treat as "infinitely" behind.
    this.#seconds = lagValues.values.length === 0 ? Infinity : Math.max(...lagValues.values.map((v) => v.value));
  }

  /** Where a read should go under these settings. */
  plan(settings: ReplicaLagSettings): ReadPlan {
    if (!settings.enabled) return 'replica';
    if (this.#known && this.#seconds <= settings.max_lag_s) return 'replica';
    // Unknown lag (primary unreachable for the poller): reading the primary would likely fail too, so mark instead.
    if (!this.#known) return 'replica_marked';
    return settings.action === 'primary' ? 'primary' : 'replica_marked';
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
