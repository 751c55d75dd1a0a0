/**
 * Controller bench: for each fault family, inject→effect and revert→effect latency through the real chaos API
 * (POST /chaos/inject, POST /chaos/revert/{id}), and the time to halt 50 active faults (DELETE /chaos/faults).
 *
 *   this process: controller + proxy server (as the lab daemon hosts them) ──▶ [payments proxy] ─▶ payments (child)
 *                 probe client (undici, keep-alive)  ·  `sleep` children with pid records (process faults; this
 *                 bench respawns a killed one at once, standing in for the supervisor)
 *
 * inject→effect = from sending the inject request until it returned AND the very next probe from outside saw the
 * fault (a client request delayed / answered 503 / 500, /proc state T, the pid gone); a probe that did not see
 * it counts as a miss (the figure would then be a lower bound). revert→effect likewise, with the probe seeing it
 * gone. The latency probe's own delay_ms is not counted. Goals (issue 6): ≤ 10 ms p99 for network and process
 * faults, halt-all ≤ 500 ms.
 *
 * Run: node --import tsx bench/controller.ts [-- --tries 20 --halts 5]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool, request } from 'undici';
import { createChaosApi } from '../src/controller/api.ts';
import { Controller } from '../src/controller/controller.ts';
import { procState } from '../src/faults/kinds/process/pid.ts';
import { startProxyServer } from '../src/proxy/server.ts';
import { ensureAgentBundle } from '../src/agent/bundle.ts';
import { AGENT_HUB } from '../src/agent/hub.ts';
import { agentEnv } from '../src/supervisor/launch.ts';
import { processStartTicks } from '../src/core/process.ts';
import { writeJson } from '../src/core/json-file.ts';
import { percentile } from './lib/stats.ts';

const { values } = parseArgs({ options: { tries: { type: 'string', default: '20' }, halts: { type: 'string', default: '5' } } });
const TRIES = Number(values.tries);
const HALTS = Number(values.halts);
const REPO = new URL('../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'faultline-controller-bench-'));
const children = new Set<ChildProcess>();

function cleanup(): void {
  for (const c of children) {
    try {
      process.kill(-c.pid!, 'SIGCONT');
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
process.once('exit', cleanup);
process.once('SIGINT', () => process.exit(130));

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A `sleep` in its own group with a pid record; respawned at once when it dies (the supervisor's job). */
async function supervisedSleeper(name: string): Promise<{ pidFile: string }> {
  const pidFile = join(dir, 'pids', `${name}.json`);
  const start = async (): Promise<void> => {
    const child = track(spawn('sleep', ['600'], { detached: true, stdio: 'ignore' }));
    await new Promise((r) => child.once('spawn', r));
    writeJson(pidFile, { name, pid: child.pid, pgid: child.pid, start_ticks: processStartTicks(child.pid!), stop_signal: 'SIGTERM', command: 'sleep' });
    child.once('exit', () => {
      if (!stopping) void start();
    });
  };
  await start();
  return { pidFile };
}
let stopping = false;

async function main(): Promise<void> {
  mkdirSync(join(dir, 'pids'), { recursive: true });
  const paymentsPort = await freePort();
  // The proxy server hosts the chaos API and the runtime agents' channel, as the lab daemon's does; payments runs
  // under the agent (the lab has no in-code fault hooks), which connects out to it.
  await ensureAgentBundle();
  const server = await startProxyServer({ host: '127.0.0.1', port: 0 });
  AGENT_HUB.configure({ token: 'bench-agent' });
  server.mount(AGENT_HUB.handler());
  const payments = track(
    spawn(process.execPath, ['--import', 'tsx', join(REPO, 'lab/payments/main.ts')], {
      env: { ...process.env, ...agentEnv(server.url, 'bench-agent', 'payments', process.env.NODE_OPTIONS), LAB_SERVICE: 'payments', LAB_PORT: String(paymentsPort), LAB_PAYMENTS_LATENCY_MS: '1', LAB_PAYMENTS_JITTER_MS: '0' },
      stdio: 'ignore',
      detached: true,
    }),
  );
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${paymentsPort}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 300) throw new Error('payments did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  for (let i = 0; !AGENT_HUB.connected('payments'); i++) {
    if (i > 200) throw new Error('the agent in payments did not register');
    await new Promise((r) => setTimeout(r, 50));
  }
  const proxy = await server.createProxy({ name: 'payments', listen: '127.0.0.1:0', upstream: `127.0.0.1:${paymentsPort}` });
  const sleeper = await supervisedSleeper('sleeper');
  const controller = await Controller.open({
    stateDir: join(dir, 'state'),
    targets: [
      { name: 'payments', proxy: { api: server.url, name: 'payments' }, http: `http://127.0.0.1:${paymentsPort}`, control: `http://127.0.0.1:${paymentsPort}/control`, port: paymentsPort, agent: { service: 'payments' } },
      { name: 'sleeper', pidFile: sleeper.pidFile },
    ],
  });
  server.mount(createChaosApi(controller, { token: 'bench' }));
  const chaos = async (method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<any> => {
    const res = await request(`${server.url}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: 'Bearer bench' } });
    const json = await res.body.json();
    if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${JSON.stringify(json)}`);
    return json;
  };
  const client = new Pool(`http://127.0.0.1:${proxy.port}`, { connections: 4 });
  const direct = new Pool(`http://127.0.0.1:${paymentsPort}`, { connections: 2 });
  const call = async (pool: Pool, method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; ms: number }> => {
    const t0 = performance.now();
    const res = await pool.request({ method, path, body, headers: body ? { 'content-type': 'application/json' } : {} });
    await res.body.arrayBuffer();
    return { status: res.statusCode, ms: performance.now() - t0 };
  };
  const charge = () => call(client, 'POST', '/charge', JSON.stringify({ idempotency_key: `b-${Math.random()}`, amount_cents: 1 }));
  const sleeperPid = (): number => (JSON.parse(readFileSync(sleeper.pidFile, 'utf8')) as { pid: number }).pid;

  interface Case {
    family: string;
    type: string;
    target: string;
    params: Record<string, unknown>;
    /** Probes from outside: true while the fault is in effect. */
    inEffect: () => Promise<boolean>;
  }
  let killedPid = 0;
  const cases: Case[] = [
    { family: 'network', type: 'latency', target: 'payments', params: { delay_ms: 20 }, inEffect: async () => (await call(client, 'GET', '/healthz')).ms >= 20 },
    { family: 'network', type: 'down', target: 'payments', params: {}, inEffect: async () => call(client, 'GET', '/healthz').then(() => false, () => true) },
    { family: 'http', type: 'http_error', target: 'payments', params: { status: 503 }, inEffect: async () => (await call(client, 'GET', '/healthz')).status === 503 },
    { family: 'http', type: 'http_delay', target: 'payments', params: { delay_ms: 20 }, inEffect: async () => (await call(client, 'GET', '/healthz')).ms >= 20 },
    { family: 'dependency', type: 'dependency_error', target: 'payments', params: { pct: 100 }, inEffect: async () => (await charge()).status === 503 },
    { family: 'agent', type: 'route_exception', target: 'payments', params: { path: '/stats' }, inEffect: async () => (await call(direct, 'GET', '/stats')).status === 500 },
    { family: 'process', type: 'pause', target: 'sleeper', params: {}, inEffect: async () => procState(sleeperPid()) === 'T' },
    {
      family: 'process',
      type: 'kill',
      target: 'sleeper',
      params: {},
      // In effect while the killed pid is gone and its replacement is not up (this bench respawns at once).
      inEffect: async () => processStartTicks(killedPid) === null && sleeperPid() === killedPid,
    },
  ];
  const rows: string[][] = [];
  // Warm-up: one pass so JIT and keep-alive connections do not land in the first sample.
  for (const c of cases) {
    const f = await chaos('POST', '/chaos/inject', { type: c.type, target: c.target, params: c.params });
    await chaos('POST', `/chaos/revert/${f.id}`);
  }
  for (const c of cases) {
    const inject: number[] = [];
    const revert: number[] = [];
    let misses = 0;
    for (let i = 0; i < TRIES; i++) {
      killedPid = sleeperPid();
      let t0 = performance.now();
      const f = await chaos('POST', '/chaos/inject', { type: c.type, target: c.target, params: c.params, duration_s: 60 });
      inject.push(performance.now() - t0);
      if (c.type === 'kill') {
        // The stand-in supervisor may have respawned already; the kill's effect is the killed pid being gone.
        if (processStartTicks(killedPid) !== null) misses++;
      } else if (!(await c.inEffect())) misses++;
      t0 = performance.now();
      await chaos('POST', `/chaos/revert/${f.id}`);
      revert.push(performance.now() - t0);
      if (c.type === 'kill' ? sleeperPid() === killedPid : await c.inEffect()) misses++;
    }
    const f = (xs: number[], p: number): string => percentile(xs, p).toFixed(2);
    rows.push([c.family, c.type, String(TRIES), f(inject, 50), f(inject, 99), f(revert, 50), f(revert, 99), String(misses)]);
  }

  // Halt-all: 50 active faults across families, reverted by one DELETE /chaos/faults.
  const halts: number[] = [];
  for (let h = 0; h < HALTS; h++) {
    for (let i = 0; i < 50; i++) {
      const kind = i % 3;
      const body =
        kind === 0
          ? { type: 'latency', target: 'payments', params: { delay_ms: 1 } }
          : kind === 1
            ? { type: 'http_delay', target: 'payments', params: { delay_ms: 1 } }
            : { type: 'route_exception', target: 'payments', params: { path: '/stats', pct: 0 } };
      await chaos('POST', '/chaos/inject', { ...body, duration_s: 60, concurrent: true });
    }
    const t0 = performance.now();
    const res = await chaos('DELETE', '/chaos/faults');
    halts.push(performance.now() - t0);
    if (res.reverted.length !== 50 || res.still_active.length !== 0) throw new Error(`halt left ${res.still_active.length} active`);
  }

  const head = ['family', 'type', 'tries', 'inject→effect p50 ms', 'p99 ms', 'revert→effect p50 ms', 'p99 ms', 'misses'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(`controller bench — ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Linux ${release()}, node ${process.version}, load ${loadavg()[0].toFixed(2)}\n\n`);
  process.stdout.write(`${line(head)}\n| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
  const sorted = [...halts].sort((a, b) => a - b);
  process.stdout.write(`\nhalt 50 active faults (17 latency, 17 http_delay, 16 route_exception): median ${percentile(halts, 50).toFixed(1)} ms, min ${sorted[0].toFixed(1)}, max ${sorted.at(-1)!.toFixed(1)} over ${HALTS} halts (goal ≤ 500 ms)\n`);

  stopping = true;
  await client.close();
  await direct.close();
  controller.close();
  AGENT_HUB.close();
  await server.close();
  payments.kill('SIGTERM');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
