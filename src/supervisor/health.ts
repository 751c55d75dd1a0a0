/**
 * Readiness probes the supervisor gates start order on. Each probe answers "ready?" once, quickly, and never
 * throws: a refused connection is just "not yet". Probes go to the process's own port, not through its fault
 * proxy — they ask about the process, not about the network a fault may be bending.
 */
import { connect } from 'node:net';
import pg from 'pg';
import type { HealthCheck } from './topology.ts';

export interface ProbeResult {
  ok: boolean;
  detail: string;
}

const PROBE_TIMEOUT_MS = 1_000;

/** Runs one probe of `check` (an `exit` check is judged by the process manager, never probed). */
export async function probe(check: HealthCheck): Promise<ProbeResult> {
  try {
    switch (check.type) {
      case 'http':
        return await probeHttp(check.url, check.expect);
      case 'tcp':
        return await probeTcp(check.port);
      case 'postgres':
        return await probePostgres(check.port, check.standby, check.user);
      case 'redis':
        return await probeRedis(check.port);
      case 'exit':
        return { ok: false, detail: 'a job is judged by its exit code' };
      case 'none':
        return { ok: true, detail: 'no health check declared: running counts as ready' };
    }
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

async function probeHttp(url: string, expect: number): Promise<ProbeResult> {
  const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
  await res.arrayBuffer();
  return { ok: res.status === expect, detail: `HTTP ${res.status}` };
}

function probeTcp(port: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (r: ProbeResult): void => {
      socket.destroy();
      resolve(r);
    };
    socket.once('connect', () => done({ ok: true, detail: 'accepts TCP' }));
    socket.once('error', (err: NodeJS.ErrnoException) => done({ ok: false, detail: err.code ?? err.message }));
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done({ ok: false, detail: 'TCP connect timed out' }));
  });
}

/** Ready = accepts queries; a standby must also be in recovery and streaming WAL from the primary. */
async function probePostgres(port: number, standby: boolean, user: string): Promise<ProbeResult> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user,
    database: 'postgres',
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ recovery: boolean; streaming: boolean | null }>(
      `SELECT pg_is_in_recovery() AS recovery,
              (SELECT status = 'streaming' FROM pg_stat_wal_receiver LIMIT 1) AS streaming`,
    );
    const row = rows[0];
    if (!standby) return { ok: !row.recovery, detail: row.recovery ? 'in recovery' : 'primary' };
    if (!row.recovery) return { ok: false, detail: 'not a standby' };
    return { ok: row.streaming === true, detail: row.streaming ? 'streaming' : 'standby, not streaming yet' };
  } finally {
    await client.end().catch(() => {});
  }
}

function probeRedis(port: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (result: ProbeResult): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done({ ok: false, detail: 'timeout' }));
    socket.once('error', (err) => done({ ok: false, detail: err.message }));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d.toString('latin1');
      if (reply.includes('\r\n')) done({ ok: reply.startsWith('+PONG'), detail: reply.trim() });
    });
  });
}

/** Resolves true when nothing listens on 127.0.0.1:`port` (connection refused). */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(PROBE_TIMEOUT_MS, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}
