/**
 * Runtime agent overhead bench (issue 17). Two servers, each run as a child process three ways, interleaved run
 * by run so drift of the machine's load hits every variant alike:
 *   - baseline:   no agent;
 *   - idle:       `--import dist/agent.mjs` with its env, connected to a hub in this process, no rule armed;
 *   - armed 0 %:  the same with a 0 %-probability fault armed on the hot path (every request/call is matched and
 *                 rolls nothing: route_exception on the hello server; call_latency on pg + fetch on the other).
 * Servers: `hello` (node:http, answers "hello"); `pg+fetch` (per request a pg query through a Pool plus a fetch to an
 * HTTP upstream). PostgreSQL comes from `faultline up` of examples/shop (its postgres, reached on its own port,
 * not through a proxy); the upstream is a plain node:http child. Load: autocannon (closed model, N connections,
 * D seconds per segment).
 *
 * This VM's two cores are not alike (one takes the host's interrupts: the same server does 30–40 % fewer req/s
 * there), and the machine drifts between fast and slow stretches of tens of seconds. So the servers run pinned to
 * the last core and autocannon to the first (taskset), the three variants of a server are all started and warmed
 * up first, then loaded in turn, in a new shuffled order each round: each round's variant figures are divided by
 * that round's baseline, taken seconds apart. Prints req/s, p99 and the server process's CPU time per request
 * (from /proc) per variant, median and spread (min–max) over rounds, and the median of the per-round ratios to the
 * baseline with their spread. Target: ≤ 2 % on req/s and p99.
 *
 * Run: npm run bench:agent [-- --runs 9 --duration 3 --connections 32]
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { ensureAgentBundle } from '../src/agent/bundle.ts';
import { AgentHub } from '../src/agent/hub.ts';
import type { RuleSpec } from '../src/agent/protocol.ts';
import { spread, type Spread } from './lib/stats.ts';
import { Discovery } from '../src/agent/discovery.ts';
import { pathOf, pathShape } from '../src/agent/match.ts';
import { RuleTable } from '../src/agent/rules.ts';
import { isPortFree } from '../src/supervisor/health.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '9' }, duration: { type: 'string', default: '3' }, connections: { type: 'string', default: '32' } } });
const RUNS = Number(values.runs);
const DURATION_S = Number(values.duration);
const CONNECTIONS = Number(values.connections);
if (!(RUNS >= 3)) throw new Error(`--runs: at least 3 rounds (got ${values.runs})`);
const BIN = new URL('../bin/faultline', import.meta.url).pathname;
const SHOP = new URL('../examples/shop/faultline.yaml', import.meta.url).pathname;
const TOKEN = 'bench-agent-token';

const HELLO = `
import http from 'node:http';
const s = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('hello'); });
s.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: s.address().port })));
`;
const PG_FETCH = `
import http from 'node:http';
import pg from 'pg';
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const up = process.env.UPSTREAM;
const s = http.createServer(async (req, res) => {
  try {
    const { rows } = await pool.query('SELECT $1::int AS n', [1]);
    const r = await fetch(up + '/quote');
    const q = await r.text();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ n: rows[0].n, q }));
  } catch (err) { res.writeHead(500); res.end(String(err.message)); }
});
s.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: s.address().port })));
`;
const UPSTREAM = `
import http from 'node:http';
const s = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"total_cents":100}'); });
s.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: s.address().port })));
`;

interface Variant {
  name: string;
  agent: boolean;
  rule?: RuleSpec;
}
interface ServerCase {
  name: string;
  file: string;
  variants: Variant[];
}

/** `taskset -c <core>` when there are two cores or more and taskset exists: [] otherwise (unpinned). */
const PIN = ((): { server: string[]; load: string[] } => {
  const n = cpus().length;
  const taskset = ['/usr/bin/taskset', '/bin/taskset'].find((f) => existsSync(f));
  return n >= 2 && taskset !== undefined ? { server: [taskset, '-c', String(n - 1)], load: [taskset, '-c', '0'] } : { server: [], load: [] };
})();

function start(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number }> {
  const [cmd, ...pre] = [...PIN.server, process.execPath];
  const child = spawn(cmd, [...pre, ...args, file], { env, stdio: ['ignore', 'pipe', 'inherit'], cwd: new URL('../', import.meta.url).pathname });
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve({ child, port: (JSON.parse(d.toString().split('\n')[0]) as { port: number }).port }));
    child.once('exit', (code) => reject(new Error(`${file} exited ${code}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await gone;
}

/** A new random order of xs (Fisher–Yates). */
function shuffled<T>(xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** A base port whose every shop port (examples/shop/faultline.yaml's offsets) is free now. */
async function freeBase(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const base = 12_000 + Math.floor(Math.random() * 14) * 1_000 + 700;
    if ((await Promise.all([80, 90, 379, 432, 474, 1080, 1090, 1379, 1432].map((o) => isPortFree(base + o)))).every(Boolean)) return base;
  }
  throw new Error('no free port range for the shop');
}

const AUTOCANNON = new URL('../node_modules/autocannon/autocannon.js', import.meta.url).pathname;

/** One autocannon run in its own process (so the load generator never shares this process's event loop). */
/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * One autocannon run in its own process (so the load generator never shares this process's event loop), with the
 * server's CPU time per request: the figure least bent by other work on a shared machine.
 */
async function load(port: number, pid: number): Promise<{ rps: number; p99: number; errors: number; cpuUs: number }> {
  const cpu0 = cpuSeconds(pid);
  const [cmd, ...pre] = [...PIN.load, process.execPath];
  const { stdout } = await promisify(execFile)(cmd, [...pre, AUTOCANNON, '-c', String(CONNECTIONS), '-d', String(DURATION_S), '-j', `http://127.0.0.1:${port}/`], { timeout: (DURATION_S + 30) * 1000, maxBuffer: 16 << 20 });
  const cpu = cpuSeconds(pid) - cpu0;
  const r = JSON.parse(stdout) as { requests: { average: number; total: number }; latency: { p99: number }; errors: number; non2xx: number };
  return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx, cpuUs: (cpu * 1e6) / Math.max(1, r.requests.total) };
}

/**
 * The agent's work per request and per call, timed in this process over many iterations (CPU-bound, so far less
 * bent by a loaded machine than req/s): what the hooks add on top of a request's own cost.
 */
function micro(): { name: string; ns: Spread }[] {
  const discovery = new Discovery();
  const idle = new RuleTable();
  const armed = new RuleTable();
  armed.arm({ id: 'r1', ttl_s: 600, type: 'route_exception', match: { method: ['GET'], path: '/**' }, pct: 0 });
  armed.arm({ id: 'r2', ttl_s: 600, type: 'call_latency', match: { library: ['pg', 'fetch'] }, pct: 0, delay_ms: 100, jitter_ms: 0 });
  const headers = { host: '127.0.0.1:8080', 'user-agent': 'autocannon', accept: '*/*' };
  const cases: [string, () => void][] = [
    ['request, agent idle (timestamp + route discovery)', () => discovery.route('GET', pathShape(pathOf('/products/42?x=1')), 200, 1.5)],
    ['request, route_exception 0 % armed (+ match)', () => {
      armed.incoming({ method: 'GET', path: pathOf('/products/42?x=1'), headers });
      discovery.route('GET', pathShape(pathOf('/products/42?x=1')), 200, 1.5);
    }],
    ['pg query, agent idle (shape + call discovery)', () => discovery.call('pg', '127.0.0.1', 5432, 'SELECT $1::int AS n', () => ({ library: ['pg'] }), 0.4, false)],
    ['pg query, call_latency 0 % armed (+ match)', () => {
      armed.call({ library: 'pg', host: '127.0.0.1', port: 5432, statement: 'SELECT $1::int AS n' });
      discovery.call('pg', '127.0.0.1', 5432, 'SELECT $1::int AS n', () => ({ library: ['pg'] }), 0.4, false);
    }],
  ];
  void idle;
  const N = 200_000;
  return cases.map(([name, fn]) => {
    const runs: number[] = [];
    for (let r = 0; r < 7; r++) {
      const t0 = process.cpuUsage();
      for (let i = 0; i < N; i++) fn();
      const d = process.cpuUsage(t0);
      runs.push(((d.user + d.system) * 1000) / N);
    }
    return { name, ns: spread(runs.slice(2)) };
  });
}

const dir = mkdtempSync(join(tmpdir(), 'faultline-bench-agent-'));
chmodSync(dir, 0o755);
// The servers import pg like any app: from a node_modules beside them (this checkout's).
symlinkSync(new URL('../node_modules', import.meta.url).pathname, join(dir, 'node_modules'));
const state = join(dir, 'state');
const children: ChildProcess[] = [];
let labUp = false;
let cleaning: Promise<void> | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));
try {
  const bundle = await ensureAgentBundle();
  const hub = new AgentHub();
  hub.configure({ token: TOKEN });
  const handle = hub.handler();
  const controller = http.createServer((req, res) => void handle(req, res).then((mine) => mine || res.writeHead(404).end()));
  await new Promise<void>((r) => controller.listen(0, '127.0.0.1', r));
  const controllerUrl = `http://127.0.0.1:${(controller.address() as AddressInfo).port}`;

  const base = await freeBase();
  process.stdout.write(`starting postgres (faultline up of examples/shop, base port ${base}) …\n`);
  await promisify(execFile)(process.execPath, [BIN, 'up', '--detach', '--system', SHOP, '--state-dir', state, '--base-port', String(base)], { timeout: 180_000 });
  labUp = true;
  writeFileSync(join(dir, 'upstream.mjs'), UPSTREAM);
  const upstream = await start(join(dir, 'upstream.mjs'), [], process.env);
  children.push(upstream.child);
  writeFileSync(join(dir, 'hello.mjs'), HELLO);
  writeFileSync(join(dir, 'pg-fetch.mjs'), PG_FETCH);
  const serverEnv = { ...process.env, DATABASE_URL: `postgres://shop@127.0.0.1:${base + 432}/shop`, UPSTREAM: `http://127.0.0.1:${upstream.port}` };
  const cases: ServerCase[] = [
    {
      name: 'hello',
      file: join(dir, 'hello.mjs'),
      variants: [{ name: 'baseline', agent: false }, { name: 'agent idle', agent: true }, { name: 'armed 0 %', agent: true, rule: { type: 'route_exception', match: { method: ['GET'], path: '/**' }, pct: 0 } }],
    },
    {
      name: 'pg+fetch',
      file: join(dir, 'pg-fetch.mjs'),
      variants: [{ name: 'baseline', agent: false }, { name: 'agent idle', agent: true }, { name: 'armed 0 %', agent: true, rule: { type: 'call_latency', match: { library: ['pg', 'fetch'] }, pct: 0, delay_ms: 100, jitter_ms: 0 } }],
    },
  ];
  const results = new Map<string, { rps: number[]; p99: number[]; cpu: number[]; ratio: { rps: number[]; p99: number[]; cpu: number[] }; errors: number }>();
  for (const c of cases) {
    // Every variant up, registered, armed and warmed before any segment is measured.
    const servers: { v: Variant; port: number; pid: number }[] = [];
    for (const v of c.variants) {
      const service = `bench-${c.name.replace(/\W/g, '')}-${v.name.replace(/\W/g, '')}`;
      const env = v.agent ? { ...serverEnv, FAULTLINE_AGENT_CONTROLLER: controllerUrl, FAULTLINE_AGENT_TOKEN: TOKEN, FAULTLINE_AGENT_SERVICE: service } : serverEnv;
      const server = await start(c.file, v.agent ? ['--import', pathToFileURL(bundle).href] : [], env);
      children.push(server.child);
      if (v.agent) {
        for (let i = 0; i < 100 && !hub.connected(service); i++) await new Promise((r) => setTimeout(r, 50));
        if (!hub.connected(service)) throw new Error(`${service}: the agent did not register`);
        if (v.rule) await hub.command(service, { cmd_id: `arm-${service}`, op: 'arm', rule: { ...v.rule, id: `rule-${service}`, ttl_s: 3600 } as never });
      }
      servers.push({ v, port: server.port, pid: server.child.pid! });
    }
    for (const sv of servers) await load(sv.port, sv.pid).catch(() => undefined); // warm-up: JIT, pool connections, keep-alive sockets
    for (let run = 0; run < RUNS; run++) {
      const round = new Map<string, Awaited<ReturnType<typeof load>>>();
      for (const sv of shuffled(servers)) {
        const r = await load(sv.port, sv.pid);
        round.set(sv.v.name, r);
        process.stdout.write(`round ${run + 1}/${RUNS} ${c.name.padEnd(9)} ${sv.v.name.padEnd(11)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99.toFixed(1)} ms  cpu ${r.cpuUs.toFixed(1)} µs/req${r.errors ? `  (${r.errors} errors)` : ''}\n`);
      }
      const b = round.get('baseline')!;
      for (const [name, r] of round) {
        const key = `${c.name}\t${name}`;
        const acc = results.get(key) ?? { rps: [], p99: [], cpu: [], ratio: { rps: [], p99: [], cpu: [] }, errors: 0 };
        acc.cpu.push(r.cpuUs);
        acc.rps.push(r.rps);
        acc.p99.push(r.p99);
        acc.ratio.rps.push(r.rps / b.rps);
        acc.ratio.p99.push(r.p99 / b.p99);
        acc.ratio.cpu.push(r.cpuUs / b.cpuUs);
        acc.errors += r.errors;
        results.set(key, acc);
      }
    }
    for (const sv of servers) await stop(children.find((ch) => ch.pid === sv.pid)!);
  }
  const fmt = (s: Spread, digits: number): string => `${s.median.toFixed(digits)} [${s.min.toFixed(digits)}–${s.max.toFixed(digits)}]`;
  const rel = (s: Spread): string => {
    const p = (x: number): string => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}`;
    return `${p(s.median)} % [${p(s.min)}…${p(s.max)}]`;
  };
  process.stdout.write(`\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load avg ${loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}; servers ${PIN.server.length ? `on core ${PIN.server[2]}, autocannon on core 0` : 'unpinned'}\n`);
  process.stdout.write(`${RUNS} rounds × ${DURATION_S} s per variant, shuffled order each round, autocannon ${CONNECTIONS} connections, after one warm-up segment per server; median [min–max]; Δ = median of per-round ratios to that round's baseline [min…max]\n\n`);
  process.stdout.write(`${'server'.padEnd(9)} ${'variant'.padEnd(11)} ${'req/s'.padEnd(22)} ${'p99 ms'.padEnd(18)} ${'CPU µs/req'.padEnd(20)} ${'Δ req/s'.padEnd(24)} ${'Δ p99'.padEnd(24)} Δ CPU/req\n`);
  for (const c of cases) {
    for (const v of c.variants) {
      const r = results.get(`${c.name}\t${v.name}`)!;
      const delta = v.name === 'baseline' ? '' : `${rel(spread(r.ratio.rps)).padEnd(24)} ${rel(spread(r.ratio.p99)).padEnd(24)} ${rel(spread(r.ratio.cpu))}`;
      process.stdout.write(`${c.name.padEnd(9)} ${v.name.padEnd(11)} ${fmt(spread(r.rps), 0).padEnd(22)} ${fmt(spread(r.p99), 1).padEnd(18)} ${fmt(spread(r.cpu), 1).padEnd(20)} ${delta}${r.errors ? `  (${r.errors} errors)` : ''}\n`);
    }
  }
  process.stdout.write(`\nthe agent's own work (in-process, 200 000 iterations × 5 runs, CPU ns per operation, median [min–max]):\n`);
  for (const m of micro()) process.stdout.write(`  ${m.name.padEnd(52)} ${fmt(m.ns, 0)} ns\n`);
  hub.close();
  controller.closeAllConnections();
  controller.close();
} finally {
  await cleanup();
}

/** Stops every child, the shop's lab and removes the temp dir (also on SIGINT/SIGTERM); runs once. */
async function cleanup(): Promise<void> {
  if (cleaning) return cleaning;
  cleaning = (async () => {
    for (const c of children) await stop(c);
    if (labUp) await promisify(execFile)(process.execPath, [BIN, 'down', '--state-dir', state], { timeout: 120_000 }).catch((err: Error) => process.stderr.write(`down failed: ${err.message}\n`));
    rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}
