/**
 * Load generator benchmark (`node --import tsx bench/load.ts`): one trivial loopback HTTP server in its own process
 * (pinned to CPU 1 when taskset exists), and, pinned to CPU 0, in turn:
 *   - faultline accuracy mode, timers only (default) and --precise (spin): the highest rate it holds (completed
 *     within 1 % of target, no drops, dispatch lag p99 ≤ 2 ms), searched upward in steps of 2,000 from 2,000;
 *   - the warm-up check: 3 s at 50 req/s with and without the warm-up (dispatch lag p99; valid at --max-lag 5ms);
 *   - wrk and autocannon at their maximum (closed model, 64 connections);
 *   - faultline throughput mode (pipelining) offered more than wrk's maximum: what it completes.
 * Each figure is run ≥ 3 times; the table shows the median and the spread (min–max). A rate that fails is tried once
 * more before the search stops (shared machines have preemption bursts). Prints figures, asserts none.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { runLoad } from '../src/load/run.ts';

const RUNS = Number(process.env.RUNS ?? 3);
const SECONDS = Number(process.env.SECONDS_PER_RUN ?? 4);
const hasTaskset = spawnSync('taskset', ['--version']).status === 0;

// Pin this process (the generators) to CPU 0 so the server keeps CPU 1 to itself.
if (hasTaskset && !process.env.FL_BENCH_PINNED) {
  const r = spawnSync('taskset', ['-c', '0', process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, FL_BENCH_PINNED: '1' },
  });
  process.exit(r.status ?? 1);
}

const SERVER = `
const http = require('node:http');
const s = http.createServer((req, res) => { req.resume(); res.writeHead(200, {'content-type': 'text/plain', 'content-length': '2'}); res.end('ok'); });
s.keepAliveTimeout = 60000;
s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;

async function startServer(): Promise<{ url: string; child: ChildProcess }> {
  const cmd = hasTaskset ? 'taskset' : process.execPath;
  const args = hasTaskset ? ['-c', '1', process.execPath, '-e', SERVER] : ['-e', SERVER];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (xs: number[]): string =>
  `${Math.round(median(xs)).toLocaleString('en-US').padStart(8)}  (${Math.round(Math.min(...xs)).toLocaleString('en-US')}–${Math.round(Math.max(...xs)).toLocaleString('en-US')})`;

interface Held {
  ok: boolean;
  completed: number;
  lagP99: number;
  latP99: number;
}

async function faultlineAt(url: string, rate: number, seconds: number, spin_ms = 0, warmup = true): Promise<Held & { valid5: boolean }> {
  const s = await runLoad({
    spin_ms,
    warmup,
    target: url,
    seed: 1,
    schedule: { executor: 'constant', rate_rps: rate, duration_ms: seconds * 1000 },
    max_lag_ms: 2,
    max_in_flight: 10_000,
  }).result;
  const ok =
    s.total.dropped === 0 &&
    s.total.sent === Math.round(rate * seconds) &&
    Math.abs(s.rate_rps.completed - rate) <= rate * 0.01 &&
    s.generator.dispatch_lag_ms.p99 <= 2;
  const lag = s.generator.dispatch_lag_ms.p99;
  // What `faultline load` would say at its default --max-lag 5ms (and the default self-watch).
  const valid5 = lag <= 5 && s.generator.generator_dropped === 0 && s.generator.event_loop_delay_ms.p99 <= 100;
  return { ok, completed: s.rate_rps.completed, lagP99: lag, latP99: s.total.latency_ms.p99, valid5 };
}

/** Upward search in steps of `step`; returns the highest rate that held (0 if none) and the log. */
async function searchHeld(url: string, step: number, spin_ms: number): Promise<{ rate: number; log: string[] }> {
  let best = 0;
  const log: string[] = [];
  for (let rate = step; rate <= 60_000; rate += step) {
    // The machine is shared: one retry per rate, so a single preemption burst does not end the search.
    let r = await faultlineAt(url, rate, SECONDS, spin_ms);
    if (!r.ok) r = await faultlineAt(url, rate, SECONDS, spin_ms);
    log.push(`${rate}:${r.ok ? 'held' : 'lost'}(lag p99 ${r.lagP99}ms, done ${r.completed}/s, p99 ${r.latP99}ms)`);
    if (!r.ok) break;
    best = rate;
  }
  return { rate: best, log };
}

function wrk(url: string): number {
  const out = execFileSync('wrk', ['-t1', '-c64', `-d${SECONDS}s`, `${url}/`], { encoding: 'utf8' });
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]);
}

function autocannon(url: string): number {
  const bin = new URL('../node_modules/autocannon/autocannon.js', import.meta.url).pathname;
  const out = execFileSync(process.execPath, [bin, '-c', '64', '-d', String(SECONDS), '-j', `${url}/`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const j = JSON.parse(out) as { requests: { total: number }; duration: number };
  return j.requests.total / j.duration;
}

async function throughput(url: string, offered: number): Promise<number> {
  const s = await runLoad({
    target: url,
    seed: 1,
    mode: 'throughput',
    schedule: { executor: 'constant', rate_rps: offered, duration_ms: SECONDS * 1000 },
    max_in_flight: 32 * 16,
    max_lag_ms: 1000,
  }).result;
  return s.total.completed / s.elapsed_s;
}

const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const psi = (): string => {
  try {
    return /^some avg10=([\d.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? 'n/a';
  } catch {
    return 'n/a';
  }
};

const { url, child } = await startServer();
try {
  const cpu = cpus();
  console.log(`machine: ${cpu.length} × ${cpu[0]?.model ?? '?'}, node ${process.version}, load average ${load()}, CPU pressure (PSI some avg10) ${psi()} %`);
  console.log(`pinning: ${hasTaskset ? 'generators on CPU 0, server on CPU 1' : 'none (no taskset)'}; ${RUNS} runs × ${SECONDS}s each\n`);
  await faultlineAt(url, 2000, 1); // the server's JIT and first connections (the generator warms itself up per run)

  // The warm-up check (issue: "a 3 s run at 50 req/s on an idle machine is not flagged invalid"), cold vs warm.
  const coldLag: number[] = [];
  const warmLag: number[] = [];
  let coldValid = 0;
  let warmValid = 0;
  const WARM_RUNS = Math.max(RUNS, 5);
  for (let k = 0; k < WARM_RUNS; k++) {
    const c = await faultlineAt(url, 50, 3, 0, false);
    const w = await faultlineAt(url, 50, 3, 0, true);
    coldLag.push(c.lagP99);
    warmLag.push(w.lagP99);
    coldValid += c.valid5 ? 1 : 0;
    warmValid += w.valid5 ? 1 : 0;
  }
  const fmtMs = (xs: number[]): string => `${median(xs).toFixed(2)} ms (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  console.log(`  50 req/s × 3 s, dispatch lag p99: cold ${fmtMs(coldLag)}, valid ${coldValid}/${WARM_RUNS}; warm ${fmtMs(warmLag)}, valid ${warmValid}/${WARM_RUNS}`);

  const held: number[] = [];
  const heldPrecise: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    const r = await searchHeld(url, 2000, 0);
    held.push(r.rate);
    console.log(`  faultline accuracy search ${k + 1} (timers): ${r.log.join(', ')}`);
    const p = await searchHeld(url, 2000, 1);
    heldPrecise.push(p.rate);
    console.log(`  faultline accuracy search ${k + 1} (--precise): ${p.log.join(', ')}`);
  }
  const wrkMax: number[] = [];
  const acMax: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    wrkMax.push(wrk(url));
    acMax.push(autocannon(url));
  }
  const offered = Math.round(median(wrkMax) * 1.2);
  const tput: number[] = [];
  for (let k = 0; k < RUNS; k++) tput.push(await throughput(url, offered));

  console.log('\n| tool (req/s, one client core)                          | median (min–max)      |');
  console.log('|--------------------------------------------------------|-----------------------|');
  console.log(`| faultline accuracy: highest rate held (±1 %, lag≤2 ms) | ${fmt(held).padEnd(21)} |`);
  console.log(`| faultline accuracy --precise (spin), same criterion    | ${fmt(heldPrecise).padEnd(21)} |`);
  console.log(`| wrk -t1 -c64 (closed model, max)                       | ${fmt(wrkMax).padEnd(21)} |`);
  console.log(`| autocannon -c64 (closed model, max)                    | ${fmt(acMax).padEnd(21)} |`);
  console.log(`| faultline throughput (32×16, offered ${String(offered).padEnd(6)})          | ${fmt(tput).padEnd(21)} |`);
  const ratio = median(tput) / median(wrkMax);
  const bestHeld = Math.max(median(held), median(heldPrecise));
  console.log(`\ngoal ≥ 10,000 req/s held open-model: ${bestHeld >= 10_000 ? 'MET' : 'NOT MET'} (median of the better mode: ${Math.round(bestHeld)})`);
  console.log(`goal throughput ≥ 70 % of wrk: ${ratio >= 0.7 ? 'MET' : 'NOT MET'} (${(ratio * 100).toFixed(0)} %)`);
  console.log(`warm-up: 50 req/s × 3 s valid (lag p99 ≤ 5 ms) ${warmValid}/${WARM_RUNS} warm vs ${coldValid}/${WARM_RUNS} cold; median lag p99 ${median(warmLag).toFixed(2)} vs ${median(coldLag).toFixed(2)} ms`);
  console.log(`machine at the end: load average ${load()}, CPU pressure ${psi()} % — the box is shared: read the figures beside wrk's from the same run`);
} finally {
  child.kill();
}
