/**
 * `worker` (run twice: worker, worker-2): settles orders left `payment_pending` (payments failed, or an orders
 * process died mid-request) from the payment_queue table. A claim leases rows (lease_token, lease_until from
 * this process's clock, claimed_by); a lease that expires — its holder died, or is still at it — can be
 * re-claimed by the other worker. The order's state machine: payment_pending ─claim─▶ processing ─▶ paid |
 * declined (back to payment_pending when the charge failed).
 *
 *   loop: claim ≤ BATCH visible, unleased-or-expired rows ─▶ per row, by the order's status:
 *     paid / declined ─▶ delete row
 *     processing (a re-delivery: the last holder's lease expired)
 *        naive ─▶ REFUSED ("someone is on it"): row deleted, the order stays processing for ever — stranded
 *        reconcile ─▶ take it over, as below
 *     payment_pending ─▶ mark processing ─▶ [reconcile: ask payments GET /charges/order-<id> first:
 *                         charged ─▶ settle from it, no second charge │ in progress / no answer ─▶ release]
 *                      ─▶ payments /charge ─ok─▶ settle + delete (own token)
 *                                          └fail─▶ back to payment_pending, visible again after RETRY_MS
 *
 * Mitigation switches (lab/README.md): reconcile (above), timeouts on payments and PostgreSQL calls, a breaker
 * on payments — while it is open rows are released without calling — and drain (finish the batch on SIGTERM).
 * Naive, a charge is cut after LAB_WORKER_CALL_TIMEOUT_MS. No synchronous retries: the queue is the retry.
 */
import { randomUUID } from 'node:crypto';
import client from 'prom-client';
import { env, envNumber, serviceAddress } from '../common/config.ts';
import { createPool, type OrderRow } from '../common/db.ts';
import { chargeOnce, lookupCharge, settlementOf, type Settlement } from '../common/charges.ts';
import { createAgent, createService, serve } from '../common/http.ts';
import { LabMetrics } from '../common/metrics.ts';
// ── mitigations (switches; all off by default) ──
import { Deadline } from '../common/deadline.ts';
import { Resilience } from '../common/mitigations-runtime.ts';
import { within } from '../common/timeouts.ts';

const { name, host, port } = serviceAddress();
const metrics = new LabMetrics(name);
const LEASE_MS = envNumber('LAB_WORKER_LEASE_MS', 30_000);
const POLL_MS = envNumber('LAB_WORKER_POLL_MS', 500);
const RETRY_MS = envNumber('LAB_WORKER_RETRY_MS', 5_000);
const BATCH = envNumber('LAB_WORKER_BATCH', 10);
/** The naive charge timeout (below the lease, so a live holder normally finishes before it expires). */
const CALL_TIMEOUT_MS = envNumber('LAB_WORKER_CALL_TIMEOUT_MS', 5_000);

const db = createPool(env('LAB_POSTGRES_PRIMARY_URL'), 4);
const paymentsUrl = env('LAB_PAYMENTS_URL');
const agent = createAgent(BATCH);
metrics.watchPgPool('primary', db);
metrics.watchAgent('payments', agent);
const resilience = new Resilience(metrics.registry, { dependencies: ['payments', 'postgres-primary'], breakers: ['payments'] });
/** The worker has no caller waiting: each call gets its own timeout (when on), no request deadline. */
const NO_DEADLINE = Deadline.none();
const pgCall = <T>(step: string, fn: () => Promise<T>): Promise<T> =>
  within(resilience.timeout('postgres_ms', NO_DEADLINE, step), 'postgres-primary', fn, () => resilience.metrics.timeouts.inc({ dependency: 'postgres-primary' }));

const claimed = new client.Counter({
  name: 'lab_worker_claims_total',
  help: 'Queue rows leased, by kind (first delivery, or reclaim of an expired lease).',
  labelNames: ['kind'] as const,
  registers: [metrics.registry],
});
const settled = new client.Counter({
  name: 'lab_worker_settled_total',
  help: 'Queue rows finished, by result (paid, declined, already_settled, payment_failed, lease_lost, refused_processing — a stranded order —, reconciled, lookup_failed).',
  labelNames: ['result'] as const,
  registers: [metrics.registry],
});
const depth = new client.Gauge({
  name: 'lab_worker_queue_depth',
  help: 'Rows in payment_queue at the last poll (visible or not).',
  registers: [metrics.registry],
});
const loopErrors = new client.Counter({
  name: 'lab_worker_poll_errors_total',
  help: 'Polls that failed (database unreachable, …).',
  registers: [metrics.registry],
});

interface Claim {
  order_id: number;
  attempts: number;
  prev_lease: Date | null;
}

/**
 * Leases ≤ BATCH rows. Naive, "now" is this process's wall clock: skewed ahead, it sees every other worker's lease
 * as expired and takes the row mid-settlement. With the clock_skew mitigation, leases run on the database's clock
 * (one clock for every worker), which a skewed process cannot move.
 */
async function claim(token: string): Promise<Claim[]> {
  const dbClock = resilience.current.clock_skew.enabled;
  const now = new Date();
  const { rows } = await metrics.timeDependency('postgres-primary', 'claim', () =>
    pgCall('claim', () => db.query<Claim>(
      `WITH c AS (
         SELECT order_id, lease_until AS prev_lease FROM payment_queue
         WHERE visible_at <= coalesce($1, now()) AND (lease_until IS NULL OR lease_until < coalesce($1, now()))
         ORDER BY visible_at LIMIT $2
         FOR UPDATE SKIP LOCKED)
       UPDATE payment_queue q SET lease_token = $3, lease_until = coalesce($1, now()) + $4 * interval '1 millisecond',
         attempts = q.attempts + 1, claimed_by = $5
       FROM c WHERE q.order_id = c.order_id
       RETURNING q.order_id, q.attempts, c.prev_lease`,
      [dbClock ? null : now, BATCH, token, LEASE_MS, name],
    )),
  );
  return rows;
}

function event(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), service: name, ...fields })}\n`);
}

/** Gives the row back: the order is pending again, and visible after RETRY_MS (only under our own lease). */
async function release(orderId: number, token: string, result: string): Promise<void> {
  await pgCall('release_row', () =>
    db.query(
      `WITH r AS (UPDATE payment_queue SET lease_token = NULL, lease_until = NULL, visible_at = coalesce($3::timestamptz, now() + $4 * interval '1 millisecond')
                  WHERE order_id = $1 AND lease_token = $2 RETURNING order_id)
       UPDATE orders SET status = 'payment_pending', updated_at = now() WHERE id IN (SELECT order_id FROM r) AND status = 'processing'`,
      [orderId, token, resilience.current.clock_skew.enabled ? null : new Date(Date.now() + RETRY_MS), RETRY_MS],
    ),
  );
  settled.inc({ result });
}

async function processRow(row: Claim, token: string): Promise<void> {
  claimed.inc({ kind: row.prev_lease === null ? 'first' : 'reclaim' });
  const { rows } = await pgCall('select_order', () => db.query<OrderRow>('SELECT id, amount_cents, status FROM orders WHERE id = $1', [row.order_id]));
  const order = rows[0];
  if (order === undefined || order.status === 'paid' || order.status === 'declined') {
    await pgCall('delete_row', () => db.query('DELETE FROM payment_queue WHERE order_id = $1 AND lease_token = $2', [row.order_id, token]));
    settled.inc({ result: 'already_settled' });
    return;
  }
  const m = resilience.current;
  if (order.status === 'processing' && !m.reconcile.enabled) {
    // The naive state machine: "processing" means someone is on it, so the re-delivery is refused and dropped.
    // When that someone died mid-settlement, nobody ever settles the order: it is stranded.
    await pgCall('delete_row', () => db.query('DELETE FROM payment_queue WHERE order_id = $1 AND lease_token = $2', [row.order_id, token]));
    settled.inc({ result: 'refused_processing' });
    event({ event: 'redelivery_refused', order_id: order.id, reason: 'status is processing' });
    return;
  }
  await pgCall('mark_processing', () =>
    db.query(`UPDATE orders SET status = 'processing', updated_at = now() WHERE id = $1 AND status IN ('payment_pending', 'processing')`, [order.id]),
  );
  let status: Settlement | undefined;
  let result: string = 'paid';
  if (m.reconcile.enabled) {
    // Ask before charging: the sync path, a retry or a dead holder may have charged this key already.
    try {
      const known = await lookupCharge(agent, paymentsUrl, metrics, order.id, resilience.timeout('payments_ms', NO_DEADLINE, 'payments') ?? CALL_TIMEOUT_MS);
      if (known !== 'none') {
        status = known;
        result = 'reconciled';
        if (row.prev_lease !== null) event({ event: 'redelivery_reconciled', order_id: order.id, settlement: known });
      }
    } catch {
      await release(order.id, token, 'lookup_failed');
      return;
    }
  }
  if (status === undefined) {
    try {
      const res = await resilience.guard('payments', NO_DEADLINE, (timeoutMs) => chargeOnce(agent, paymentsUrl, metrics, order, timeoutMs), {
        timeout: 'payments_ms',
        breaker: true,
        naive: { attempts: 1, timeout_ms: CALL_TIMEOUT_MS },
      });
      status = settlementOf(res.status);
    } catch {
      status = undefined;
    }
    if (status !== undefined) result = status;
  }
  if (status === undefined) {
    await release(order.id, token, 'payment_failed');
    return;
  }
  // The status moves out of processing once, whoever gets there first; the row goes only under our lease
  // (if the lease was lost meanwhile, the new holder finds the order settled and deletes it).
  const { rows: done } = await pgCall('settle', () => db.query<{ deleted: number }>(
    `WITH u AS (UPDATE orders SET status = $2, updated_at = now() WHERE id = $1 AND status IN ('payment_pending', 'processing') RETURNING id),
          d AS (DELETE FROM payment_queue WHERE order_id = $1 AND lease_token = $3 RETURNING order_id)
     SELECT count(*)::int AS deleted FROM d`,
    [order.id, status, token],
  ));
  settled.inc({ result: done[0].deleted === 1 ? result : 'lease_lost' });
}

let running = true;
let ready = false;
let wake: (() => void) | undefined;

async function loop(): Promise<void> {
  while (running) {
    try {
      const token = randomUUID();
      const rows = await claim(token);
      await Promise.all(rows.map((r) => processRow(r, token).catch(() => loopErrors.inc())));
      const { rows: count } = await pgCall('queue_depth', () => db.query<{ n: number }>('SELECT count(*)::int AS n FROM payment_queue'));
      depth.set(count[0].n);
      if (rows.length === BATCH) continue; // more may be waiting
    } catch {
      loopErrors.inc();
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
      setTimeout(resolve, POLL_MS);
    });
  }
}

const server = createService({ metrics, ready: () => ready, routes: [...resilience.routes()] });
let looping: Promise<void> = Promise.resolve();
const drainMs = (): number | undefined => (resilience.current.drain.enabled ? resilience.current.drain.grace_ms : undefined);
await serve(
  server,
  host,
  port,
  async () => {
    running = false;
    wake?.();
    // Draining: the batch in hand is finished (up to the grace) rather than left to lease expiry.
    await Promise.race([looping, new Promise((r) => setTimeout(r, drainMs() ?? 1_000))]);
    await db.end().catch(() => {});
  },
  drainMs,
);
await db.query('SELECT 1');
ready = true;
looping = loop();
process.stdout.write(`${name} listening on ${host}:${port}\n`);
