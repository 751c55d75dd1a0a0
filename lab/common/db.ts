/**
 * The lab's PostgreSQL side: pools (naive: no statement or connect timeouts), the schema and the seed.
 *
 *   orders          one row per order; idempotency_key UNIQUE is what makes a retried POST safe
 *   payment_queue   orders whose payment is not settled yet; a row is visible at `visible_at` and
 *                   leased (lease_token, lease_until) by one worker at a time
 */
import pg from 'pg';

// bigint ids come back as strings by default; every id in the lab stays far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export function createPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: process.env.LAB_SERVICE ?? 'lab' });
  // An idle client losing its connection (a killed backend, a proxy reset) must not crash the process.
  pool.on('error', (err) => process.stderr.write(`pg pool: ${err.message}\n`));
  return pool;
}

export const ORDER_STATUSES = ['payment_pending', 'paid', 'declined'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS orders (
  id              bigserial PRIMARY KEY,
  customer_id     bigint NOT NULL CHECK (customer_id > 0),
  amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
  idempotency_key text NOT NULL UNIQUE,
  status          text NOT NULL CHECK (status IN ('payment_pending', 'paid', 'declined')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS payment_queue (
  order_id    bigint PRIMARY KEY REFERENCES orders(id),
  visible_at  timestamptz NOT NULL,
  attempts    integer NOT NULL DEFAULT 0,
  lease_token uuid,
  lease_until timestamptz
);
CREATE INDEX IF NOT EXISTS payment_queue_visible ON payment_queue (visible_at);
`;

/** Seeds `count` settled orders (idempotent: keys `seed-<n>`), so reads have something to hit from the start. */
export const SEED_SQL = `
INSERT INTO orders (customer_id, amount_cents, idempotency_key, status)
SELECT 1 + (n % 1000), 100 + (n * 7919) % 99900, 'seed-' || n, 'paid'
FROM generate_series(1, $1::int) AS n
ON CONFLICT (idempotency_key) DO NOTHING
`;

export interface OrderRow {
  id: number;
  customer_id: number;
  amount_cents: number;
  idempotency_key: string;
  status: OrderStatus;
  created_at: Date;
}

/** The public shape of an order. */
export function orderJson(row: OrderRow): Record<string, unknown> {
  return {
    id: row.id,
    customer_id: row.customer_id,
    amount_cents: row.amount_cents,
    status: row.status,
    created_at: row.created_at instanceof Date ? row.created_at.toISOString() : row.created_at,
  };
}
