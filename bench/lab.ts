/**
 * Lab bench: the lab's cold-start time (from an empty state dir), its warm start (a second `up` on the same
 * data), and its throughput at the seed mix — 80 % GET /orders/{id} (a random seeded id: cache, else replica),
 * 20 % POST /orders (primary + payments) — through the api proxy, with p50/p99 per operation. The load is a
 * simple closed loop (N workers, each sends its next request when the last one answered) on undici; the open
 * model generator lives in src/load/ and is not used here. Starts are measured `--runs` times.
 *
 *   this process (closed loop, undici Pool) ──▶ [api proxy] ─▶ api ─▶ orders ×2 ─▶ payments / postgres / redis
 *
 * Run: node --import tsx bench/lab.ts [-- --runs 3 --duration-s 10 --concurrency 16,64]
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs, promisify } from 'node:util';
import { Pool } from 'undici';
import { labToken } from '../src/supervisor/token.ts';
import { LAB_SERVICES } from '../src/supervisor/topology.ts';
import { percentile, spread } from './lib/stats.ts';

const run = promisify(execFile);
const BIN = new URL('../bin/faultline', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'duration-s': { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '16,64' },
    'base-port': { type: 'string', default: '31000' },
  },
});
const runs = Number(values.runs);
const durationS = Number(values['duration-s']);
const concurrencies = values.concurrency!.split(',').map(Number);
const basePort = Number(values['base-port']);

async function faultline(args: string[]): Promise<string> {
  return (await run(process.execPath, [BIN, ...args], { timeout: 120_000 })).stdout;
}

/** `up --detach` wall time, as a user sees it (CLI start included). */
async function timedUp(stateDir: string): Promise<number> {
  const t0 = performance.now();
  await faultline(['up', '--detach', '--state-dir', stateDir, '--base-port', String(basePort)]);
  return (performance.now() - t0) / 1000;
}

const fmt = (s: { median: number; min: number; max: number }, unit: string, digits = 1): string =>
  `${s.median.toFixed(digits)} ${unit} (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)})`;

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-bench-'));
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
}

async function main(): Promise<void> {
  console.log(`# lab bench — ${cpus().length}× ${cpus()[0]?.model ?? '?'}, Linux ${release()}, node ${process.version}, load ${loadavg()[0].toFixed(2)}`);
  const cold: number[] = [];
  const warm: number[] = [];
  let stateDir = '';
  for (let i = 0; i < runs; i++) {
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    stateDir = freshDir();
    cold.push(await timedUp(stateDir));
    await faultline(['down', '--state-dir', stateDir]);
    warm.push(await timedUp(stateDir));
    if (i < runs - 1) await faultline(['down', '--state-dir', stateDir]);
  }
  console.log(`cold start (empty state dir → healthy): ${fmt(spread(cold), 's')} over ${runs} runs`);
  console.log(`warm start (second up, data reused):    ${fmt(spread(warm), 's')} over ${runs} runs`);

  // The lab from the last warm start stays up for the load.
  const token = labToken(stateDir);
  const apiPort = basePort + LAB_SERVICES.find((r) => r.name === 'api')!.proxy!;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  let seq = 0;
  for (const concurrency of concurrencies) {
    const pool = new Pool(`http://127.0.0.1:${apiPort}`, { connections: concurrency, pipelining: 1 });
    const lat = { GET: [] as number[], POST: [] as number[] };
    const errors = { GET: 0, POST: 0 };
    const stopAt = performance.now() + durationS * 1000;
    const t0 = performance.now();
    const workerLoop = async (): Promise<void> => {
      while (performance.now() < stopAt) {
        const isGet = Math.random() < 0.8;
        const start = performance.now();
        try {
          const res = isGet
            ? await pool.request({ method: 'GET', path: `/orders/${1 + Math.floor(Math.random() * 10_000)}`, headers })
            : await pool.request({
                method: 'POST',
                path: '/orders',
                headers,
                body: JSON.stringify({ customer_id: 1 + (seq % 1000), amount_cents: 100 + (seq % 5000), idempotency_key: `bench-${Date.now()}-${seq++}` }),
              });
          await res.body.dump();
          if (res.statusCode >= 400) errors[isGet ? 'GET' : 'POST'] += 1;
        } catch {
          errors[isGet ? 'GET' : 'POST'] += 1;
        }
        lat[isGet ? 'GET' : 'POST'].push(performance.now() - start);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, workerLoop));
    const elapsed = (performance.now() - t0) / 1000;
    await pool.close();
    const total = lat.GET.length + lat.POST.length;
    console.log(`closed loop, ${concurrency} workers, ${durationS} s: ${(total / elapsed).toFixed(0)} req/s (${total} requests)`);
    for (const op of ['GET', 'POST'] as const) {
      const l = lat[op];
      console.log(
        `  ${op.padEnd(4)} ${String(l.length).padStart(7)} req  p50 ${percentile(l, 50).toFixed(1)} ms  p99 ${percentile(l, 99).toFixed(1)} ms  errors ${errors[op]}`,
      );
    }
  }
}

try {
  await main();
} finally {
  for (const dir of dirs) {
    await faultline(['down', '--state-dir', dir]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
}
