/**
 * The mitigations' Prometheus series, on the service's registry: this module alone names them. Every counter is
 * created at 0 for its known labels so a dashboard sees "none yet" rather than "no data".
 *
 *   lab_mitigation_enabled{mitigation}              1 when that switch is on
 *   lab_breaker_state{dependency}                   0 closed, 1 half-open, 2 open
 *   lab_breaker_rejections_total{dependency}        calls refused because the breaker was open
 *   lab_breaker_transitions_total{dependency,to}    breaker state changes (to: open, half_open, closed)
 *   lab_retry_requests_total{dependency}            calls made under a retry policy (budget deposits)
 *   lab_retries_total{dependency}                   retries sent
 *   lab_retry_budget_exhausted_total{dependency}    retries not sent because the budget was empty
 *   lab_timeouts_total{dependency}                  calls cut by their timeout
 *   lab_deadline_exceeded_total{step}               work not started because the request's deadline had passed
 *   lab_shed_requests_total{pool}                   requests refused by the adaptive limiter (503)
 *   lab_concurrency_limit{pool}                     the adaptive limit now
 *   lab_bulkhead_rejections_total{pool}             requests refused by a full bulkhead (503)
 *   lab_bulkhead_active{pool} / _waiting{pool}      slots held / requests queued
 *   lab_fallbacks_total{kind}                       degraded answers served (payment_pending, primary_read, stale_read)
 *   lab_handler_slots_active / _waiting             the naive shared handler pool (reads and writes): held / queued
 */
import client from 'prom-client';
import { MITIGATION_NAMES, type MitigationState } from './mitigations.ts';

export const POOLS = ['read', 'write'] as const;
export type Pool = (typeof POOLS)[number];
export const FALLBACK_KINDS = ['payment_pending', 'primary_read', 'stale_read'] as const;

export class MitigationMetrics {
  readonly breakerState: client.Gauge<'dependency'>;
  readonly breakerRejections: client.Counter<'dependency'>;
  readonly breakerTransitions: client.Counter<'dependency' | 'to'>;
  readonly handlerActive: client.Gauge;
  readonly handlerWaiting: client.Gauge;
  readonly retryRequests: client.Counter<'dependency'>;
  readonly retries: client.Counter<'dependency'>;
  readonly budgetExhausted: client.Counter<'dependency'>;
  readonly timeouts: client.Counter<'dependency'>;
  readonly deadlineExceeded: client.Counter<'step'>;
  readonly shed: client.Counter<'pool'>;
  readonly limit: client.Gauge<'pool'>;
  readonly bulkheadRejections: client.Counter<'pool'>;
  readonly bulkheadActive: client.Gauge<'pool'>;
  readonly bulkheadWaiting: client.Gauge<'pool'>;
  readonly fallbacks: client.Counter<'kind'>;

  constructor(registry: client.Registry, state: MitigationState, dependencies: readonly string[]) {
    const registers = [registry];
    new client.Gauge({
      name: 'lab_mitigation_enabled',
      help: 'Mitigation switches of this process: 1 on, 0 off.',
      labelNames: ['mitigation'] as const,
      registers,
      collect() {
        for (const m of MITIGATION_NAMES) this.set({ mitigation: m }, state.current[m].enabled ? 1 : 0);
      },
    });
    this.breakerState = new client.Gauge({ name: 'lab_breaker_state', help: 'Circuit breaker state by dependency: 0 closed, 1 half-open, 2 open.', labelNames: ['dependency'], registers });
    this.breakerRejections = new client.Counter({ name: 'lab_breaker_rejections_total', help: 'Calls refused without being sent because the breaker was open, by dependency.', labelNames: ['dependency'], registers });
    this.breakerTransitions = new client.Counter({ name: 'lab_breaker_transitions_total', help: 'Circuit breaker state changes by dependency and new state (open, half_open, closed).', labelNames: ['dependency', 'to'], registers });
    this.handlerActive = new client.Gauge({ name: 'lab_handler_slots_active', help: 'Slots of the shared handler pool (reads and writes alike, bulkheads off) held now.', registers });
    this.handlerWaiting = new client.Gauge({ name: 'lab_handler_slots_waiting', help: 'Requests queued for a slot of the shared handler pool (unbounded: the naive queue).', registers });
    this.retryRequests = new client.Counter({ name: 'lab_retry_requests_total', help: 'Calls made under a retry policy (each deposits in the retry budget), by dependency.', labelNames: ['dependency'], registers });
    this.retries = new client.Counter({ name: 'lab_retries_total', help: 'Retries sent, by dependency.', labelNames: ['dependency'], registers });
    this.budgetExhausted = new client.Counter({ name: 'lab_retry_budget_exhausted_total', help: 'Retries not sent because the retry budget was empty, by dependency.', labelNames: ['dependency'], registers });
    this.timeouts = new client.Counter({ name: 'lab_timeouts_total', help: 'Outbound calls cut by their timeout, by dependency.', labelNames: ['dependency'], registers });
    this.deadlineExceeded = new client.Counter({ name: 'lab_deadline_exceeded_total', help: 'Steps not started because the request deadline had passed, by step.', labelNames: ['step'], registers });
    this.shed = new client.Counter({ name: 'lab_shed_requests_total', help: 'Requests refused early (503) by the adaptive concurrency limiter, by pool.', labelNames: ['pool'], registers });
    this.limit = new client.Gauge({ name: 'lab_concurrency_limit', help: 'Adaptive concurrency limit now in force, by pool.', labelNames: ['pool'], registers });
    this.bulkheadRejections = new client.Counter({ name: 'lab_bulkhead_rejections_total', help: 'Requests refused (503) by a full bulkhead, by pool.', labelNames: ['pool'], registers });
    this.bulkheadActive = new client.Gauge({ name: 'lab_bulkhead_active', help: 'Bulkhead slots held, by pool.', labelNames: ['pool'], registers });
    this.bulkheadWaiting = new client.Gauge({ name: 'lab_bulkhead_waiting', help: 'Requests waiting for a bulkhead slot, by pool.', labelNames: ['pool'], registers });
    this.fallbacks = new client.Counter({ name: 'lab_fallbacks_total', help: 'Degraded answers served, by kind (payment_pending, primary_read, stale_read).', labelNames: ['kind'], registers });
    // Breaker series appear only for dependencies that have a breaker (lab/common/breaker.ts starts them).
    for (const dependency of dependencies) {
      for (const c of [this.retryRequests, this.retries, this.budgetExhausted, this.timeouts]) c.inc({ dependency }, 0);
    }
    for (const pool of POOLS) {
      this.shed.inc({ pool }, 0);
      this.bulkheadRejections.inc({ pool }, 0);
    }
    for (const kind of FALLBACK_KINDS) this.fallbacks.inc({ kind }, 0);
  }
}
