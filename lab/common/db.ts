/**
 * The lab's PostgreSQL side: pools (naive: no statement or connect timeouts), the schema and the seed.
 *
 *   orders          one row per order; idempotency_key UNIQUE is what makes a retried POST safe
 *   payment_queue   orders whose payment is not settled yet; a row is visible at `visible_at` and
 *                   leased (lease_token, lease_until, claimed_by) by one worker at a time
 * An unsettled order (payment_pending, processing) without a queue row is stranded: nobody will settle it.
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

/** payment_pending ─claim─▶ processing ─charge─▶ paid | declined (and back to payment_pending if the charge failed). */
export const ORDER_STATUSES = ['payment_pending', 'processing', 'paid', 'declined'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS orders (
  id              bigserial PRIMARY KEY,
  customer_id     bigint NOT NULL CHECK (customer_id > 0),
  amount_cents    bigint NOT NULL CHECK (amount_cents > 0),
  idempotency_key text NOT NULL UNIQUE,
  status          text NOT NULL CONSTRAINT orders_status_check CHECK (status IN ('payment_pending', 'processing', 'paid', 'declined')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS payment_queue (
  order_id    bigint PRIMARY KEY REFERENCES orders(id),
  visible_at  timestamptz NOT NULL,
  attempts    integer NOT NULL DEFAULT 0,
  lease_token uuid,
  lease_until timestamptz,
  claimed_by  text
);
CREATE INDEX IF NOT EXISTS payment_queue_visible ON payment_queue (visible_at);
ALTER TABLE payment_queue ADD COLUMN IF NOT EXISTS claimed_by text;
DO $$ BEGIN
  -- Data made before the worker's processing state: widen the status check once.
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'orders_status_check' AND pg_get_constraintdef(oid) LIKE '%processing%') THEN
    ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_status_check;
    ALTER TABLE orders ADD CONSTRAINT orders_status_check CHECK (status IN ('payment_pending', 'processing', 'paid', 'declined'));
  END IF;
END $$;
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
