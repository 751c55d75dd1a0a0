/**
 * The lab's one-shot setup job (run by the supervisor once the primary is up, before orders and worker):
 * creates the `lab` database, the schema and ≥ 10,000 seed orders. Idempotent: a second `up` changes nothing.
 */
import pg from 'pg';
import { env, envNumber } from '../common/config.ts';
import { SCHEMA_SQL, SEED_SQL } from '../common/db.ts';

const url = new URL(env('LAB_POSTGRES_PRIMARY_URL'));
const seedCount = envNumber('LAB_SEED_ORDERS', 10_000);

const admin = new pg.Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
await admin.connect();
const { rowCount } = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'lab'`);
if (rowCount === 0) await admin.query('CREATE DATABASE lab');
await admin.end();

const db = new pg.Client({ connectionString: url.toString() });
await db.connect();
await db.query(SCHEMA_SQL);
const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM orders WHERE idempotency_key LIKE 'seed-%'`);
if (rows[0].n < seedCount) {
  const t0 = Date.now();
  await db.query(SEED_SQL, [seedCount]);
  await db.query('ANALYZE orders');
  process.stdout.write(`seeded ${seedCount} orders in ${Date.now() - t0} ms\n`);
} else process.stdout.write(`seed present (${rows[0].n} orders)\n`);
await db.end();
