/**
 * Property test of the chaos API (fast-check, fixed seed, bounded runs): random sequences of inject / revert /
 * halt / list / bad input, some fired concurrently so halts race injects and reverts race applies, against a
 * controller mounted on a real proxy server, a real echo upstream and real processes (SIGSTOP is real).
 * After every sequence, and checked on the real system rather than on the controller's word:
 *   - no 5xx except the documented few (APPLY_FAILED, REVERT_FAILED), and the server keeps answering;
 *   - after a final halt nothing is in effect: no toxic on the proxy, no process stopped;
 *   - every record is terminal after that halt, and while running none stayed active past its TTL + a bound.
 * `FAULTLINE_FUZZ_RUNS` raises the number of sequences (`npm run fuzz`).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { Target } from '../faults/injector.ts';
import { procState } from '../faults/kinds/process/pid.ts';
import { startProxyServer, type ProxyServer } from '../proxy/server.ts';
import { processStartTicks } from '../core/process.ts';
import { writeJson } from '../core/json-file.ts';
import { startEchoServer, type EchoServer } from '../../test/helpers/net.ts';
import { createChaosApi } from './api.ts';
import { Controller } from './controller.ts';

const RUNS = Number(process.env.FAULTLINE_FUZZ_RUNS ?? 25);
/** 5xx codes the API documents: the fault could not be applied / reverted (each with a user-level message). */
const DOCUMENTED_5XX = new Set(['FL_APPLY_FAILED', 'FL_REVERT_FAILED']);
/** How long past its TTL a fault may still be active before that counts as stuck (timer + revert time). */
const TTL_BOUND_S = 2;

type Op =
  | { op: 'inject'; type: string; target: string; params: Record<string, unknown>; duration_s: unknown; concurrent: boolean }
  | { op: 'revert'; which: number | string }
  | { op: 'halt' }
  | { op: 'list' }
  | { op: 'raw'; method: string; path: string; body: string };

const typeArb = fc.constantFrom('latency', 'loss', 'down', 'pause', 'bandwidth', 'dependency_error', 'cpu_quota', 'nope', '');
const targetArb = fc.constantFrom('payments', 'p1', 'p2', 'bare', 'ghost');
const paramsArb = fc.oneof(
  fc.constant({}),
  fc.record({ delay_ms: fc.oneof(fc.integer({ min: -5, max: 300 }), fc.constant('x')) }),
  fc.record({ pct: fc.oneof(fc.double({ min: -1, max: 120, noNaN: true }), fc.constant(null)) }),
  fc.record({ rate_kbps: fc.integer({ min: -1, max: 1000 }) }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
);
/** Injects that can succeed: a type with params it accepts, on a target that can take it. */
const validInjectArb: fc.Arbitrary<Op> = fc
  .oneof(
    fc.record({ type: fc.constant('latency'), target: fc.constant('payments'), params: fc.record({ delay_ms: fc.integer({ min: 1, max: 50 }) }) }),
    fc.record({ type: fc.constant('loss'), target: fc.constant('payments'), params: fc.record({ pct: fc.integer({ min: 1, max: 50 }) }) }),
    fc.record({ type: fc.constant('down'), target: fc.constant('payments'), params: fc.constant({}) }),
    fc.record({ type: fc.constant('bandwidth'), target: fc.constant('payments'), params: fc.record({ rate_kbps: fc.integer({ min: 10, max: 1000 }) }) }),
    fc.record({ type: fc.constant('pause'), target: fc.constantFrom('p1', 'p2'), params: fc.constant({}) }),
  )
  .chain((f) => fc.record({ duration_s: fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 3 })), concurrent: fc.boolean() }).map((o) => ({ op: 'inject' as const, ...f, ...o })));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: validInjectArb },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('inject' as const), type: typeArb, target: targetArb, params: paramsArb, duration_s: fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 3 }), fc.constant(-1), fc.constant('10')), concurrent: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('revert' as const), which: fc.oneof(fc.nat({ max: 20 }), fc.constantFrom('%zz', 'nope', '%E0%A4%A', '..%2F..')) }) },
  { weight: 2, arbitrary: fc.constant({ op: 'halt' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'list' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('raw' as const),
      method: fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH'),
      path: fc.constantFrom('/chaos/inject', '/chaos/faults', '/chaos/revert/', '/chaos/targets', '/chaos/%C0', '/chaos/experiments', '/proxies', '/proxies/payments/toxics'),
      body: fc.oneof(fc.constant(''), fc.constant('[]'), fc.constant('{"type":'), fc.constant('null'), fc.string({ maxLength: 40 }), fc.constant('x'.repeat(70_000))),
    }),
  },
);

describe('chaos API under random sequences (property test, real proxy and processes)', () => {
  let echo: EchoServer;
  let server: ProxyServer;
  let controller: Controller;
  let stateDir: string;
  const children: ChildProcess[] = [];
  const sleepers: number[] = [];

  before(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'faultline-prop-'));
    mkdirSync(join(stateDir, 'pids'));
    echo = await startEchoServer();
    server = await startProxyServer({ port: 0, allowedHosts: ['127.0.0.1', 'localhost'], log: () => {} });
    await server.createProxy({ name: 'payments', upstream: echo.address });
    const targets: Target[] = [{ name: 'payments', proxy: { api: server.url, name: 'payments' } }, { name: 'bare' }];
    for (const name of ['p1', 'p2']) {
      const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
      children.push(child);
      await new Promise((r) => child.once('spawn', r));
      const pidFile = join(stateDir, 'pids', `${name}.json`);
      writeJson(pidFile, { name, pid: child.pid, pgid: child.pid, start_ticks: processStartTicks(child.pid!), stop_signal: 'SIGTERM', command: 'sleep' }, 0o644);
      targets.push({ name, pidFile });
      sleepers.push(child.pid!);
    }
    controller = await Controller.open({ stateDir: join(stateDir, 'ctl'), targets, defaultTtlS: 3 });
    server.mount(createChaosApi(controller, { token: 't' }));
  });
  after(async () => {
    await controller.halt();
    controller.close();
    await server.close();
    await echo.close();
    for (const c of children) {
      try {
        process.kill(-c.pid!, 'SIGCONT');
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(stateDir, { recursive: true, force: true });
  });

  it(`${RUNS} random sequences: no undocumented 5xx, nothing in effect after halt, no record stuck past its TTL`, async () => {
    const ids: string[] = [];
    const problems: string[] = [];
    let requests = 0;
    const call = async (method: string, path: string, body?: string): Promise<{ status: number; json: Record<string, unknown> | null }> => {
      requests++;
      const res = await fetch(`${server.url}${path}`, { method, ...(body !== undefined && method !== 'GET' ? { body } : {}) });
      const text = await res.text();
      let json: Record<string, unknown> | null = null;
      try {
        json = JSON.parse(text) as Record<string, unknown>;
      } catch {
        /* not JSON (a 404 page, say) */
      }
      if (res.status >= 500 && !DOCUMENTED_5XX.has(String(json?.code))) problems.push(`${method} ${path.slice(0, 40)} → ${res.status} ${text.slice(0, 160)}`);
      return { status: res.status, json };
    };
    const run = async (op: Op): Promise<void> => {
      if (op.op === 'inject') {
        const r = await call('POST', '/chaos/inject', JSON.stringify({ type: op.type, target: op.target, params: op.params, duration_s: op.duration_s, concurrent: op.concurrent }));
        if (r.status === 201 && typeof r.json?.id === 'string') ids.push(r.json.id);
      } else if (op.op === 'revert') {
        await call('POST', `/chaos/revert/${typeof op.which === 'number' ? (ids[op.which % Math.max(1, ids.length)] ?? 'none') : op.which}`);
      } else if (op.op === 'halt') await call('DELETE', '/chaos/faults');
      else if (op.op === 'list') await call('GET', '/chaos/faults');
      else await call(op.method, op.path, op.body);
    };
    const stuck = (): string[] =>
      controller
        .list()
        .filter((r) => (r.phase === 'injected' || r.phase === 'pending') && Date.now() / 1000 > r.expires_at + TTL_BOUND_S)
        .map((r) => `${r.type}@${r.target} ${r.phase} ${(Date.now() / 1000 - r.expires_at).toFixed(1)} s past its TTL`);

    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 8 }), async (batches) => {
        for (const batch of batches) {
          await Promise.all(batch.map(run)); // ops of one batch race each other
          problems.push(...stuck());
        }
        await call('DELETE', '/chaos/faults');
        const open = controller.list().filter((r) => r.phase === 'injected' || r.phase === 'pending');
        const toxics = server.registry.get('payments').toxics.size;
        const stopped = sleepers.filter((pid) => procState(pid) === 'T');
        if (open.length > 0) problems.push(`after halt: ${open.map((r) => `${r.type}@${r.target} ${r.phase}`).join(', ')} not terminal`);
        if (toxics > 0) problems.push(`after halt: ${toxics} toxic(s) left on the proxy`);
        if (stopped.length > 0) problems.push(`after halt: pids ${stopped.join(',')} still stopped`);
        if (!server.registry.get('payments').enabled) problems.push('after halt: the proxy is still disabled');
        assert.deepEqual(problems, []);
      }),
      { seed: 20261201, numRuns: RUNS, endOnFailure: true },
    );
    process.stdout.write(`# ${RUNS} sequences, ${requests} requests, ${ids.length} faults injected, ${controller.list().length} records\n`);
  });
});
