/**
 * Data integrity after a run, checked on the lab's databases directly (not through the fault proxies): every
 * order the load generator saw acknowledged exists exactly once on the primary, no charge was replayed beyond
 * what the experiment allows (payments' duplicate counter), and the replica caught up with the primary.
 * This module alone talks to Postgres for the runner.
 *
 *   run's idempotency keys (replayed from the seed) ─▶ primary: rows per key ─┐
 *   acknowledged writes (client 2xx count) ──────────────────────────────────┼─▶ Integrity
 *   primary WAL LSN vs replica replay LSN (polled until equal or timeout) ───┘
 */
import pg from 'pg';
import type { Integrity } from './evaluate.ts';

export interface IntegrityInput {
  primaryPort: number;
  replicaPort: number;
  /** Idempotency keys of every write the run planned (sent or not). */
  keys: string[];
  /** Writes answered 200/201 (acknowledged to the client). */
  acknowledged: number;
  /** Replayed charges seen by payments during the run, and how many the experiment allows. */
  duplicateCharges: number;
  maxDuplicateCharges: number;
  /** How long the replica may take to catch up. Default 10 s. */
  replicaTimeoutMs?: number;
}

/**
 * @example
 *   const integrity = await checkIntegrity({ primaryPort: 27532, replicaPort: 27533, keys, acknowledged: 120,
 *                                            duplicateCharges: 0, maxDuplicateCharges: 0 });
 */
export async function checkIntegrity(input: IntegrityInput): Promise<Integrity> {
  const notes: string[] = [];
  const connect = async (port: number): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'lab', database: 'lab', connectionTimeoutMillis: 5000, statement_timeout: 10_000 });
    c.on('error', () => {});
    await c.connect();
    return c;
  };
  const primary = await connect(input.primaryPort);
  let replica: pg.Client | undefined;
  try {
    const rows = await primary.query<{ key: string; n: number }>(
      'SELECT idempotency_key AS key, count(*)::int AS n FROM orders WHERE idempotency_key = ANY($1) GROUP BY 1',
      [input.keys],
    );
    const found = rows.rows.length;
    const dupOrders = rows.rows.filter((r) => r.n > 1).length;
    // We know how many writes were acknowledged, not which: every acknowledged key must have a row, so the rows
    // found for the run's keys can never be fewer than the acknowledgements.
    if (found < input.acknowledged) notes.push(`${input.acknowledged - found} acknowledged order(s) missing on the primary (${found} found for ${input.acknowledged} acknowledged)`);
    if (dupOrders > 0) notes.push(`${dupOrders} idempotency key(s) have more than one order`);
    if (input.duplicateCharges > input.maxDuplicateCharges) {
      notes.push(`${input.duplicateCharges} charge(s) replayed for an already-charged key (allowed: ${input.maxDuplicateCharges})`);
    }
    replica = await connect(input.replicaPort);
    const deadline = Date.now() + (input.replicaTimeoutMs ?? 10_000);
    let lag = Number.NaN;
    for (;;) {
      const p = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0].lsn;
      const r = (await replica.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')).rows[0].lsn;
      lag = r === null ? Number.NaN : Number((await primary.query<{ d: string }>('SELECT pg_wal_lsn_diff($1, $2)::text AS d', [p, r])).rows[0].d);
      if (lag <= 0 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    const caughtUp = lag <= 0;
    if (!caughtUp) notes.push(`replica still ${Number.isNaN(lag) ? 'not replaying' : `${lag} bytes behind`} after ${(input.replicaTimeoutMs ?? 10_000) / 1000} s`);
    else {
      // The two counts are taken moments apart on two servers: a write still in flight when the load stopped can
      // commit in between and replicate a moment later. Only a difference that outlasts the deadline is a finding.
      const count = async (c: pg.Client): Promise<number> => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM orders WHERE idempotency_key = ANY($1)', [input.keys])).rows[0].n;
      let onPrimary = found;
      let onReplica = await count(replica);
      while (onReplica !== onPrimary && Date.now() <= deadline) {
        await new Promise((res) => setTimeout(res, 200));
        onPrimary = await count(primary);
        onReplica = await count(replica);
      }
      if (onReplica !== onPrimary) notes.push(`replica has ${onReplica} of the run's orders, the primary ${onPrimary}`);
    }
    return {
      checked: true,
      ok: notes.length === 0,
      acknowledged_orders: input.acknowledged,
      found_on_primary: found,
      duplicate_orders: dupOrders,
      duplicate_charges: input.duplicateCharges,
      replica_caught_up: caughtUp,
      replica_lag_bytes: Number.isNaN(lag) ? null : Math.max(0, lag),
      notes: notes.length > 0 ? notes : ['every acknowledged order exists exactly once; no replayed charge; replica caught up'],
    };
  } finally {
    await primary.end().catch(() => {});
    await replica?.end().catch(() => {});
  }
}
