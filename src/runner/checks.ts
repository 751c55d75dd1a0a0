/**
 * A system's integrity checks (its system file's `integrity:`), run after every experiment: SQL whose single
 * value must equal the expected answer, run on the database itself (never through a fault proxy), or a command
 * whose exit code or JSON answer says the data is sound. Each result says what was expected and what was found.
 *
 * @example const results = await runIntegrityChecks(runView(system).integrity);
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

export async function runIntegrityChecks(checks: readonly IntegrityCheck[]): Promise<CheckResult[]> {
  return Promise.all(checks.map((c) => runOne(c)));
}

async function runOne(c: IntegrityCheck): Promise<CheckResult> {
  const t0 = Date.now();
  const done = (ok: boolean, expected: string, found: string): CheckResult => ({ name: c.name, ok, expected, found, ms: Date.now() - t0 });
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
