/**
 * `worker`: settles orders left `payment_pending` (payments failed, or an orders process died mid-request)
 * from the payment_queue table. A claim leases rows (lease_token, lease_until from this process's clock); a
 * lease that expires while its holder is still PROCESSING can be re-claimed by anyone. That re-delivery gap is
 * safe because every step is idempotent: payments dedupes by the key `order-<id>`, the status update only
 * moves an order out of payment_pending once, and a holder only deletes a queue row under its own token.
 *
 *   loop: claim ≤ BATCH visible, unleased-or-expired rows ─▶ per row: order still pending?
 *           no ─▶ delete row │ yes ─▶ payments /charge ─ok─▶ settle + delete (own token)
 *                                                       └fail─▶ release lease, visible again after RETRY_MS
 *
 * Mitigation switches (lab/README.md): timeouts on payments and PostgreSQL calls, and a breaker on payments —
 * while it is open rows are released without calling, and a half-open probe finds out when payments is back.
 * No synchronous retries here: the queue is the retry.
 */
import { randomUUID } from 'node:crypto';
import client from 'prom-client';
import { env, envNumber, serviceAddress } from '../common/config.ts';
import { createPool, type OrderRow } from '../common/db.ts';
import { call, createAgent, createService, serve } from '../common/http.ts';
import { LabMetrics, outcomeOf } from '../common/metrics.ts';
// ── mitigations (switches; all off by default) ──
import { DependencyError } from '../common/breaker.ts';
import { Deadline } from '../common/deadline.ts';
import { Resilience } from '../common/mitigations-runtime.ts';
import { within } from '../common/timeouts.ts';

const { name, host, port } = serviceAddress();
const metrics = new LabMetrics(name);
const LEASE_MS = envNumber('LAB_WORKER_LEASE_MS', 30_000);
const POLL_MS = envNumber('LAB_WORKER_POLL_MS', 500);
const RETRY_MS = envNumber('LAB_WORKER_RETRY_MS', 5_000);
const BATCH = envNumber('LAB_WORKER_BATCH', 10);

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
  help: 'Queue rows finished, by result (paid, declined, already_settled, payment_failed, lease_lost).',
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

async function claim(token: string): Promise<Claim[]> {
  const now = new Date();
  const { rows } = await metrics.timeDependency('postgres-primary', 'claim', () =>
    pgCall('claim', () => db.query<Claim>(
      `WITH c AS (
         SELECT order_id, lease_until AS prev_lease FROM payment_queue
         WHERE visible_at <= $1 AND (lease_until IS NULL OR lease_until < $1)
         ORDER BY visible_at LIMIT $2
         FOR UPDATE SKIP LOCKED)
       UPDATE payment_queue q SET lease_token = $3, lease_until = $4, attempts = q.attempts + 1
       FROM c WHERE q.order_id = c.order_id
       RETURNING q.order_id, q.attempts, c.prev_lease`,
      [now, BATCH, token, new Date(now.getTime() + LEASE_MS)],
    )),
  );
  return rows;
}

async function processRow(row: Claim, token: string): Promise<void> {
  claimed.inc({ kind: row.prev_lease === null ? 'first' : 'reclaim' });
  const { rows } = await pgCall('select_order', () => db.query<OrderRow>('SELECT id, amount_cents, status FROM orders WHERE id = $1', [row.order_id]));
  const order = rows[0];
  if (order === undefined || order.status !== 'payment_pending') {
    await pgCall('delete_row', () => db.query('DELETE FROM payment_queue WHERE order_id = $1 AND lease_token = $2', [row.order_id, token]));
    settled.inc({ result: 'already_settled' });
    return;
  }
  const body = JSON.stringify({ idempotency_key: `order-${order.id}`, amount_cents: order.amount_cents, order_id: order.id });
  let status: 'paid' | 'declined' | undefined;
  try {
    const once = async (timeoutMs: number | undefined) => {
      const r = await metrics.timeDependency('payments', 'charge', () => call(agent, paymentsUrl, 'POST', '/charge', body, {}, timeoutMs), (r) =>
        r.status === 402 ? 'ok' : outcomeOf(r.status),
      );
      if (r.status >= 500) throw new DependencyError('payments', `payments answered ${r.status}`, r.status);
      return r;
    };
    const res = await resilience.guard('payments', NO_DEADLINE, once, { timeout: 'payments_ms', breaker: true });
    status = res.status === 200 || res.status === 201 ? 'paid' : res.status === 402 ? 'declined' : undefined;
  } catch {
    status = undefined;
  }
  if (status === undefined) {
    await pgCall('release_row', () =>
      db.query(
        'UPDATE payment_queue SET lease_token = NULL, lease_until = NULL, visible_at = $3 WHERE order_id = $1 AND lease_token = $2',
        [order.id, token, new Date(Date.now() + RETRY_MS)],
      ),
    );
    settled.inc({ result: 'payment_failed' });
    return;
  }
  // The status moves out of payment_pending once, whoever gets there first; the row goes only under our lease
  // (if the lease was lost meanwhile, the new holder finds the order settled and deletes it).
  const { rows: done } = await pgCall('settle', () => db.query<{ deleted: number }>(
    `WITH u AS (UPDATE orders SET status = $2, updated_at = now() WHERE id = $1 AND status = 'payment_pending' RETURNING id),
          d AS (DELETE FROM payment_queue WHERE order_id = $1 AND lease_token = $3 RETURNING order_id)
     SELECT count(*)::int AS deleted FROM d`,
    [order.id, status, token],
  ));
  settled.inc({ result: done[0].deleted === 1 ? status : 'lease_lost' });
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
await serve(server, host, port, async () => {
  running = false;
  wake?.();
  await Promise.race([looping, new Promise((r) => setTimeout(r, 1_000))]);
  await db.end().catch(() => {});
});
await db.query('SELECT 1');
ready = true;
looping = loop();
process.stdout.write(`${name} listening on ${host}:${port}\n`);
