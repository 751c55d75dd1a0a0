/**
 * Replication lag as the primary sees it (pg_stat_replication), polled in the background on its own
 * one-connection pool with short timeouts, so a scrape never waits on the database and a fault on the
 * primary shows as `lab_replication_lag_up 0` instead of a hung /metrics.
 */
import client from 'prom-client';
import pg from 'pg';

const POLL_MS = 1_000;

/** Starts polling; returns the function that stops it. */
export function watchReplication(primaryUrl: string, registry: client.Registry): () => void {
  const pool = new pg.Pool({ connectionString: primaryUrl, max: 1, connectionTimeoutMillis: POLL_MS, query_timeout: POLL_MS });
  pool.on('error', () => {});
  const bytes = new client.Gauge({
    name: 'lab_replication_lag_bytes',
    help: 'WAL bytes the replica has not replayed yet, from the primary (pg_stat_replication).',
    labelNames: ['replica'] as const,
    registers: [registry],
  });
  const seconds = new client.Gauge({
    name: 'lab_replication_lag_seconds',
    help: 'Replay lag of the replica in seconds, from the primary (0 when idle and caught up).',
    labelNames: ['replica'] as const,
    registers: [registry],
  });
  const connected = new client.Gauge({
    name: 'lab_replication_connected_replicas',
    help: 'Replicas streaming from the primary.',
    registers: [registry],
  });
  const up = new client.Gauge({
    name: 'lab_replication_lag_up',
    help: '1 when the last replication-lag poll of the primary succeeded.',
    registers: [registry],
  });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const poll = async (): Promise<void> => {
    try {
      const { rows } = await pool.query<{ name: string; bytes: number | null; seconds: number | null }>(
        `SELECT application_name AS name,
                      pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 AS bytes,
                      coalesce(extract(epoch FROM replay_lag), 0)::float8 AS seconds
               FROM pg_stat_replication`,
      );
      bytes.reset();
      seconds.reset();
      for (const r of rows) {
        bytes.set({ replica: r.name }, Number(r.bytes ?? 0));
        seconds.set({ replica: r.name }, Number(r.seconds ?? 0));
      }
      connected.set(rows.length);
      up.set(1);
    } catch {
      up.set(0);
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  };
  void poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
    void pool.end().catch(() => {});
  };
}
