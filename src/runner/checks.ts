/**
 * A system's integrity checks (its system file's `integrity:`), run after every experiment: SQL whose single
 * value must equal the expected answer, run on the database itself (never through a fault proxy); SQL that counts
 * how many of the run's write keys the database holds, which must reach the number of acknowledged writes
 * (waiting up to wait_s for an asynchronous replica); or a command whose exit code or JSON answer says the data is
 * sound. Each result says what was expected and what was found.
 *
 * @example const results = await runIntegrityChecks(runView(system).integrity, { writes });
 */
import { spawn } from 'node:child_process';
import pg from 'pg';
import type { IntegrityCheck } from '../system/view.ts';

export interface CheckResult {
  name: string;
  ok: boolean;
  expected: string;
  found: string;
  ms: number;
}

const TIMEOUT_MS = 30_000;

/** What the run sent to an endpoint: every key its writes carried (body field), and how many were acknowledged. */
export type WritesOf = (endpoint: string, key: string, acknowledged: readonly number[]) => { keys: string[]; acknowledged: number };

export async function runIntegrityChecks(checks: readonly IntegrityCheck[], ctx: { writes?: WritesOf } = {}): Promise<CheckResult[]> {
  return Promise.all(checks.map((c) => runOne(c, ctx)));
}

async function runOne(c: IntegrityCheck, ctx: { writes?: WritesOf }): Promise<CheckResult> {
  const t0 = Date.now();
  const done = (ok: boolean, expected: string, found: string): CheckResult => ({ name: c.name, ok, expected, found, ms: Date.now() - t0 });
  if (c.writes) {
    const w = c.writes;
    if (!ctx.writes) return done(false, 'the run\'s writes', 'no load ran: nothing to look for');
    const sent = ctx.writes(w.endpoint, w.key, w.acknowledged);
    const expected = `≥ ${sent.acknowledged} (acknowledged ${w.endpoint} writes, of ${sent.keys.length} sent)`;
    const client = new pg.Client({ connectionString: w.url, connectionTimeoutMillis: 5_000, statement_timeout: TIMEOUT_MS });
    client.on('error', () => {});
    try {
      await client.connect();
      const deadline = Date.now() + w.wait_s * 1000;
      for (;;) {
        const { rows } = await client.query<Record<string, unknown>>(w.query, [sent.keys]);
        const found = Number(Object.values(rows[0] ?? {})[0]);
        if (!Number.isFinite(found)) return done(false, expected, `the query answered ${JSON.stringify(rows[0] ?? null)}, not a count`);
        if (found >= sent.acknowledged || Date.now() >= deadline) {
          const missing = sent.acknowledged - found;
          return done(missing <= 0, expected, missing <= 0 ? `${found}` : `${found}: ${missing} acknowledged write(s) missing${w.wait_s > 0 ? ` after waiting ${w.wait_s} s` : ''}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    } catch (err) {
      return done(false, expected, `error: ${(err as Error).message}`);
    } finally {
      await client.end().catch(() => {});
    }
  }
  if (c.sql) {
    const expected = JSON.stringify(c.sql.expect);
    const client = new pg.Client({ connectionString: c.sql.url, connectionTimeoutMillis: 5_000, statement_timeout: TIMEOUT_MS });
    client.on('error', () => {});
    try {
      await client.connect();
      const { rows } = await client.query<Record<string, unknown>>(c.sql.query);
      if (rows.length !== 1 || Object.keys(rows[0]).length !== 1) return done(false, expected, `${rows.length} row(s) of ${Object.keys(rows[0] ?? {}).length} column(s); a check answers one value`);
      const value = Object.values(rows[0])[0];
      // pg returns bigint counts as strings: compare as the expected value's type.
      const found = typeof c.sql.expect === 'number' && typeof value === 'string' ? Number(value) : value;
      return done(found === c.sql.expect, expected, JSON.stringify(found));
    } catch (err) {
      return done(false, expected, `error: ${(err as Error).message}`);
    } finally {
      await client.end().catch(() => {});
    }
  }
  const cmd = c.command!;
  const expected = cmd.expect === 'exit0' ? 'exit code 0' : 'JSON {"ok": true} on stdout';
  return new Promise((resolve) => {
    const child = spawn(cmd.argv[0], cmd.argv.slice(1), { cwd: cmd.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-65_536)));
    child.stderr.on('data', () => {});
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve(done(false, expected, `cannot run: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (cmd.expect === 'exit0') return resolve(done(code === 0, expected, signal ? `killed by ${signal}` : `exit code ${code}`));
      try {
        const json = JSON.parse(out.trim()) as { ok?: unknown };
        resolve(done(json.ok === true, expected, JSON.stringify(json).slice(0, 200)));
      } catch {
        resolve(done(false, expected, `not JSON: ${out.trim().slice(0, 120)}`));
      }
    });
  });
}
