/**
 * `orders` (run twice: orders-1, orders-2). The write path inserts on the primary and calls payments; the read
 * path is cache-aside: Redis, then the replica. Naive by default, the way real services are: one bounded handler
 * pool shared by reads and writes (LAB_ORDERS_CONCURRENCY slots, an unbounded queue behind them), a pg pool of
 * LAB_PG_POOL_MAX, and a payments client with a short timeout that retries any failure at once, 3 attempts, no
 * budget. Each mitigation is a switch (LAB_MITIGATIONS, or live via POST /__lab/mitigations — lab/README.md).
 *
 *   POST /orders ─▶ primary: INSERT order + queue row (one statement) ─▶ payments /charge ─▶ primary: settle
 *                   (payments failed ─▶ 502, the order stays payment_pending and the worker settles it later)
 *   GET /orders/:id ─▶ redis GET ─hit─▶ 200 (x-lab-source: cache)
 *                              └miss─▶ replica SELECT ─▶ redis SET PX ttl ─▶ 200 (x-lab-source: replica)
 */
import type { IncomingMessage } from 'node:http';
import { Redis } from 'ioredis';
import client from 'prom-client';
import { env, envNumber, serviceAddress } from '../common/config.ts';
import { createPool, orderJson, type OrderRow, type OrderStatus } from '../common/db.ts';
import { chargeOnce, ChargeInProgressError, lookupCharge, settlementOf } from '../common/charges.ts';
import { createAgent, createService, HttpError, invalid, parseId, readJsonObject, serve, type Issue, type Reply } from '../common/http.ts';
import { LabMetrics } from '../common/metrics.ts';
import { watchReplication } from '../common/replication.ts';
// ── mitigations (switches; all off by default) ──
import { DependencyError } from '../common/breaker.ts';
import type { Deadline } from '../common/deadline.ts';
import { pendingReply, ReplicaLag } from '../common/degrade.ts';
import { Resilience } from '../common/mitigations-runtime.ts';
import { within } from '../common/timeouts.ts';

const { name, host, port } = serviceAddress();
const metrics = new LabMetrics(name);
const CACHE_TTL_MS = envNumber('LAB_CACHE_TTL_MS', 30_000);
/** The synchronous path owns a new order this long before the worker may pick it up. */
const QUEUE_GRACE_MS = envNumber('LAB_QUEUE_GRACE_MS', 30_000);
/** The naive payments client: per-attempt timeout and attempts (immediate retries of any failure, no budget). */
const NAIVE = { timeout_ms: envNumber('LAB_NAIVE_TIMEOUT_MS', 200), attempts: envNumber('LAB_NAIVE_ATTEMPTS', 3) };
/** With reconcile on, a degraded order reaches the worker this much later, once its timed-out charge has landed. */
const RECONCILE_DELAY_MS = envNumber('LAB_RECONCILE_DELAY_MS', 2_000);

const primary = createPool(env('LAB_POSTGRES_PRIMARY_URL'), envNumber('LAB_PG_POOL_MAX', 10));
const replica = createPool(env('LAB_POSTGRES_REPLICA_URL'), envNumber('LAB_PG_POOL_MAX', 10));
const redis = new Redis(env('LAB_REDIS_URL'), { lazyConnect: true });
redis.on('error', () => {}); // reconnects on its own; failures show up as cache errors
const paymentsUrl = env('LAB_PAYMENTS_URL');
const paymentsAgent = createAgent();
metrics.watchPgPool('primary', primary);
metrics.watchPgPool('replica', replica);
metrics.watchAgent('payments', paymentsAgent);
const stopReplication = watchReplication(env('LAB_POSTGRES_PRIMARY_URL'), metrics.registry);
const resilience = new Resilience(metrics.registry, {
  dependencies: ['payments', 'postgres-primary', 'postgres-replica', 'redis'],
  breakers: ['payments'],
  // Like a thread pool of 5 (Puma's default): reads and writes share it while bulkheads are off.
  handlerConcurrency: envNumber('LAB_ORDERS_CONCURRENCY', 5),
});
const replicaLag = new ReplicaLag(metrics.registry);
/** A PostgreSQL call under the request's deadline (a plain call when timeouts are off). */
const pgCall = <T>(deadline: Deadline, dependency: 'postgres-primary' | 'postgres-replica', step: string, fn: () => Promise<T>): Promise<T> =>
  within(resilience.timeout('postgres_ms', deadline, step), dependency, fn, () => resilience.metrics.timeouts.inc({ dependency }));

const reads = new client.Counter({
  name: 'lab_order_reads_total',
  help: 'GET /orders/{id} answers by the source that served them (cache, replica, primary when the replica lags) or not_found.',
  labelNames: ['source'] as const,
  registers: [metrics.registry],
});
const writes = new client.Counter({
  name: 'lab_order_writes_total',
  help: 'POST /orders outcomes: the order status (payment_pending when degraded), payment_failed, or replayed for a known idempotency key.',
  labelNames: ['result'] as const,
  registers: [metrics.registry],
});
const replicaInRecovery = new client.Gauge({
  name: 'lab_replica_in_recovery',
  help: '1 when the replica pool points at a hot standby (pg_is_in_recovery), checked at start.',
  registers: [metrics.registry],
});

interface NewOrder {
  customer_id: number;
  amount_cents: number;
  idempotency_key: string;
}

const KEY_RE = /^[A-Za-z0-9_.:-]{1,100}$/;

/** Validates the whole body and reports every problem at once. */
function parseOrder(body: Record<string, unknown>): NewOrder {
  const issues: Issue[] = [];
  const { customer_id: customer, amount_cents: amount, idempotency_key: key } = body;
  if (customer === undefined) issues.push({ path: 'customer_id', message: 'required' });
  else if (typeof customer !== 'number' || !Number.isSafeInteger(customer) || customer < 1 || customer > 2_147_483_647) {
    issues.push({ path: 'customer_id', message: 'must be an integer in [1, 2147483647]' });
  }
  if (amount === undefined) issues.push({ path: 'amount_cents', message: 'required' });
  else if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1 || amount > 100_000_000) {
    issues.push({ path: 'amount_cents', message: 'must be an integer in [1, 100000000]' });
  }
  if (key === undefined) issues.push({ path: 'idempotency_key', message: 'required' });
  else if (typeof key !== 'string' || !KEY_RE.test(key)) {
    issues.push({ path: 'idempotency_key', message: 'must be 1–100 characters of A-Z a-z 0-9 _ . : -' });
  }
  if (issues.length > 0) throw invalid(issues);
  return { customer_id: customer as number, amount_cents: amount as number, idempotency_key: key as string };
}

/** Inserts the order and its queue row in one statement: both or neither. Returns undefined on a known key. */
async function insertOrder(order: NewOrder, deadline: Deadline): Promise<number | undefined> {
  // Naive: this process's clock (skewed, the worker sees the row 5 min early or late); clock_skew on: the database's.
  const visibleAt = resilience.current.clock_skew.enabled ? null : new Date(Date.now() + QUEUE_GRACE_MS);
  const { rows } = await metrics.timeDependency('postgres-primary', 'insert_order', () =>
    pgCall(deadline, 'postgres-primary', 'insert_order', () => primary.query<{ id: number }>(
      `WITH ins AS (
         INSERT INTO orders (customer_id, amount_cents, idempotency_key, status)
         VALUES ($1, $2, $3, 'payment_pending')
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING id),
       q AS (INSERT INTO payment_queue (order_id, visible_at) SELECT id, coalesce($4::timestamptz, now() + $5 * interval '1 millisecond') FROM ins RETURNING order_id)
       SELECT id FROM ins`,
      [order.customer_id, order.amount_cents, order.idempotency_key, visibleAt, QUEUE_GRACE_MS],
    )),
  );
  return rows[0]?.id;
}

/** Charges payments for an order; resolves with the settled status, or undefined when payments failed. */
async function chargeOrder(id: number, amount: number, deadline: Deadline): Promise<OrderStatus | undefined> {
  // The key is derived from the order, which the client's idempotency key made unique: a retried POST, a retried
  // charge and the worker's charge all carry the same key, so payments charges it once. A 5xx throws (a failure
  // for the breaker and the retry policy; a naive caller just sees "not paid").
  const once = async (timeoutMs: number | undefined, attempt: number): Promise<OrderStatus | undefined> => {
    // Reconcile: a retry first asks whether the previous attempt's charge went through after all.
    if (attempt > 1 && resilience.current.reconcile.enabled) {
      const known = await lookupCharge(paymentsAgent, paymentsUrl, metrics, id, timeoutMs);
      if (known !== 'none') return known;
    }
    return settlementOf((await chargeOnce(paymentsAgent, paymentsUrl, metrics, { id, amount_cents: amount }, timeoutMs)).status);
  };
  try {
    return await resilience.guard('payments', deadline, once, { timeout: 'payments_ms', breaker: true, retryable: retryableCharge, naive: NAIVE });
  } catch {
    return undefined;
  }
}

/**
 * Which failed charges are worth repeating: answered 5xx or refused/reset before an answer. Not a timeout —
 * a slow payments is made slower by more calls (and the order is settled later anyway).
 */
function retryableCharge(err: unknown): boolean {
  if (err instanceof ChargeInProgressError) return false;
  if (err instanceof DependencyError) return true;
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'EPIPE';
}

async function settle(id: number, status: OrderStatus, deadline: Deadline): Promise<void> {
  await metrics.timeDependency('postgres-primary', 'settle_order', () =>
    pgCall(deadline, 'postgres-primary', 'settle_order', () => primary.query(
      `WITH u AS (UPDATE orders SET status = $2, updated_at = now() WHERE id = $1 AND status IN ('payment_pending', 'processing') RETURNING id)
       DELETE FROM payment_queue WHERE order_id = $1`,
      [id, status],
    )),
  );
}

/** Degraded answer: the order stays payment_pending and becomes visible to the worker now, not after the grace. */
async function acceptPending(id: number, reason: string, deadline: Deadline): Promise<Reply> {
  try {
    // Reconcile on: a little later, so the worker's lookup finds the timed-out charge landed rather than racing it.
    const delayMs = resilience.current.reconcile.enabled ? RECONCILE_DELAY_MS : 0;
    await pgCall(deadline, 'postgres-primary', 'release_to_worker', () =>
      primary.query(`UPDATE payment_queue SET visible_at = now() + $2 * interval '1 millisecond' WHERE order_id = $1`, [id, delayMs]),
    );
  } catch {
    // The worker still picks it up after the grace period.
  }
  resilience.metrics.fallbacks.inc({ kind: 'payment_pending' });
  writes.inc({ result: 'payment_pending' });
  return pendingReply(id, reason);
}

async function createOrder(req: IncomingMessage): Promise<Reply> {
  const deadline = resilience.deadline(req);
  const order = parseOrder(await readJsonObject(req));
  const id = await insertOrder(order, deadline);
  if (id === undefined) {
    // The key is known: answer with that order, never a second one.
    const { rows } = await pgCall(deadline, 'postgres-primary', 'select_by_key', () =>
      primary.query<OrderRow>('SELECT * FROM orders WHERE idempotency_key = $1', [order.idempotency_key]),
    );
    const existing = rows[0];
    if (existing === undefined) throw new HttpError(409, 'CONFLICT', 'idempotency key in flight; retry');
    if (existing.customer_id !== order.customer_id || existing.amount_cents !== order.amount_cents) {
      throw new HttpError(409, 'IDEMPOTENCY_KEY_REUSED', `idempotency_key ${order.idempotency_key} belongs to order ${existing.id} with other values`);
    }
    writes.inc({ result: 'replayed' });
    return { status: 200, body: { id: existing.id, status: existing.status }, headers: { 'idempotent-replayed': 'true' } };
  }
  const status = await chargeOrder(id, order.amount_cents, deadline);
  if (status === undefined && resilience.current.degrade.enabled) {
    return acceptPending(id, resilience.breakerOpen('payments') ? 'breaker_open' : 'payments_failed', deadline);
  }
  if (status === undefined) {
    writes.inc({ result: 'payment_failed' });
    throw new HttpError(502, 'PAYMENT_FAILED', 'payments failed; the order stays payment_pending and is settled later', {
      id,
      status: 'payment_pending',
    });
  }
  await settle(id, status, deadline);
  writes.inc({ result: status });
  return { status: 201, body: { id, status } };
}

async function readOrder(req: IncomingMessage, [raw]: string[]): Promise<Reply> {
  const id = parseId(raw);
  const deadline = resilience.deadline(req);
  const key = `order:${id}`;
  const bypass = /no-cache/i.test(String(req.headers['cache-control'] ?? ''));
  if (bypass) metrics.cacheRequests.inc({ result: 'bypass' });
  else {
    let cached: string | null = null;
    try {
      cached = await metrics.timeDependency('redis', 'get', () =>
        within(resilience.timeout('redis_ms', deadline, 'cache_get'), 'redis', () => redis.get(key), () => resilience.metrics.timeouts.inc({ dependency: 'redis' })),
      );
      metrics.cacheRequests.inc({ result: cached === null ? 'miss' : 'hit' });
    } catch {
      metrics.cacheRequests.inc({ result: 'error' });
    }
    if (cached !== null) {
      reads.inc({ source: 'cache' });
      return { status: 200, body: JSON.parse(cached), headers: { 'x-lab-source': 'cache', 'x-lab-instance': name } };
    }
  }
  // Replica-lag-aware: too far behind, read the primary (or mark the answer possibly stale).
  const plan = replicaLag.plan(resilience.current.replica_lag);
  const source = plan === 'primary' ? 'primary' : 'replica';
  const { rows } = await metrics.timeDependency(`postgres-${source}`, 'select_order', () =>
    pgCall(deadline, `postgres-${source}`, 'select_order', () =>
      (plan === 'primary' ? primary : replica).query<OrderRow>('SELECT id, customer_id, amount_cents, status, created_at FROM orders WHERE id = $1', [id]),
    ),
  );
  if (plan !== 'replica') resilience.metrics.fallbacks.inc({ kind: plan === 'primary' ? 'primary_read' : 'stale_read' });
  const lagHeaders: Record<string, string> = plan === 'replica_marked' ? { 'x-lab-stale': 'possibly' } : {};
  if (rows.length === 0) {
    reads.inc({ source: 'not_found' });
    throw new HttpError(404, 'ORDER_NOT_FOUND', `no order ${id}`);
  }
  const body = orderJson(rows[0]);
  // Cache-aside: populate after a miss; a failed SET only costs the next reader a miss.
  if (!bypass) {
    metrics.timeDependency('redis', 'set', () => redis.set(key, JSON.stringify(body), 'PX', CACHE_TTL_MS)).catch(() => {});
  }
  reads.inc({ source });
  return { status: 200, body, headers: { 'x-lab-source': source, 'x-lab-instance': name, ...lagHeaders } };
}

let ready = false;
const server = createService({
  metrics,
  ready: () => ready,
  routes: [
    { method: 'POST', pattern: /^\/orders$/, label: '/orders', handler: resilience.admit('write', createOrder) },
    { method: 'GET', pattern: /^\/orders\/([^/]*)$/, label: '/orders/:id', handler: resilience.admit('read', readOrder) },
    ...resilience.routes(),
  ],
});

await serve(
  server,
  host,
  port,
  async () => {
    stopReplication();
    replicaLag.stop();
    redis.disconnect();
    await Promise.allSettled([primary.end(), replica.end()]);
  },
  () => (resilience.current.drain.enabled ? resilience.current.drain.grace_ms : undefined),
);
// Ready once every dependency answered once through its proxy (and the replica really is a standby).
await primary.query('SELECT 1');
const { rows } = await replica.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
replicaInRecovery.set(rows[0].r ? 1 : 0);
await redis.connect();
ready = true;
process.stdout.write(`${name} listening on ${host}:${port}\n`);
