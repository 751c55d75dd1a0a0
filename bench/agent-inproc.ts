/**
 * The runtime agent's per-request cost on a real node:http server, isolated from the machine's drift (issue 17):
 * one process holds a hello-world server and an undici client, and alternates, in shuffled order each round,
 * between four states of the same warm server: no hooks; two no-op subscribers on the channels the agent uses
 * (what Node's own publishing costs); the agent's server hooks installed (the
 * `http.server.request.start` / `response.finish` diagnostics-channel subscribers, discovery per request); and
 * the hooks with a route_exception rule at 0 % that matches every request (header match included, so Node builds
 * `request.headers`). Each segment sends N requests at a fixed concurrency and reads this process's CPU time
 * (client and server together); the figure is the CPU µs per request of each state and the difference to "no
 * hooks" in the same round: what the agent adds, Node's own publishing included, whatever the load around it.
 *
 * Run: node --import tsx bench/agent-inproc.ts [-- --rounds 15 --requests 4000]
 */
import diagnostics from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import type { AgentCore } from '../src/agent/core.ts';
import { Discovery } from '../src/agent/discovery.ts';
import { patchHttpServer } from '../src/agent/patches/http-server.ts';
import { RuleTable } from '../src/agent/rules.ts';
import { spread, type Spread } from './lib/stats.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' }, requests: { type: 'string', default: '4000' } } });
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);
const CONCURRENCY = 16;

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end('hello');
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: CONCURRENCY, pipelining: 1 });

async function segment(): Promise<number> {
  let next = 0;
  const t0 = process.cpuUsage();
  const worker = async (): Promise<void> => {
    while (next++ < REQUESTS) {
      const res = await pool.request({ method: 'GET', path: '/products/42', headers: { 'x-customer-id': '7' } });
      await res.body.dump();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / REQUESTS;
}

type State = 'no hooks' | 'empty subscribers' | 'hooks' | 'hooks + 0 % rule';
const STATES: State[] = ['no hooks', 'empty subscribers', 'hooks', 'hooks + 0 % rule'];
function enter(state: State): () => void {
  if (state === 'no hooks') return () => {};
  if (state === 'empty subscribers') {
    // What Node itself does once anyone listens: it builds and publishes a message per request and response.
    const noop = (): void => {};
    diagnostics.subscribe('http.server.request.start', noop);
    diagnostics.subscribe('http.server.response.finish', noop);
    return () => {
      diagnostics.unsubscribe('http.server.request.start', noop);
      diagnostics.unsubscribe('http.server.response.finish', noop);
    };
  }
  const rules = new RuleTable();
  const core: AgentCore = { rules, discovery: new Discovery(), libraries: new Map(), isOwn: () => false };
  const unpatch = patchHttpServer(core);
  if (state === 'hooks + 0 % rule') rules.arm({ id: 'r', ttl_s: 600, type: 'route_exception', match: { method: ['GET'], path: '/**', headers: { 'x-customer-id': '42' } }, pct: 0 });
  return () => {
    rules.disarmAll();
    unpatch();
  };
}

const shuffled = <T>(xs: readonly T[]): T[] => {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
};

for (const s of STATES) {
  const leave = enter(s);
  await segment(); // warm-up of every code path
  leave();
}
const perState = new Map<State, number[]>(STATES.map((s) => [s, []]));
const deltas = new Map<State, number[]>(STATES.map((s) => [s, []]));
for (let r = 0; r < ROUNDS; r++) {
  const round = new Map<State, number>();
  for (const s of shuffled(STATES)) {
    const leave = enter(s);
    round.set(s, await segment());
    leave();
  }
  for (const s of STATES) {
    perState.get(s)!.push(round.get(s)!);
    deltas.get(s)!.push(round.get(s)! - round.get('no hooks')!);
  }
}
await pool.close();
server.close();

const fmt = (x: Spread): string => `${x.median.toFixed(2)} [${x.min.toFixed(2)}–${x.max.toFixed(2)}]`;
process.stdout.write(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load avg ${loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}\n`);
process.stdout.write(`${ROUNDS} rounds × ${REQUESTS} requests per state, concurrency ${CONCURRENCY}, shuffled order each round; CPU µs per request of this process (client + server), median [min–max]\n\n`);
process.stdout.write(`${'state'.padEnd(18)} ${'CPU µs/req'.padEnd(22)} Δ vs no hooks, same round\n`);
for (const s of STATES) process.stdout.write(`${s.padEnd(18)} ${fmt(spread(perState.get(s)!)).padEnd(22)} ${s === 'no hooks' ? '' : `${fmt(spread(deltas.get(s)!))} µs`}\n`);
