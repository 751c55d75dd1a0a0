/**
 * An attached service: a plain Node HTTP server this test starts itself, outside faultline, described in a system
 * file as `type: attached` (found by its port) with a fault proxy in front. faultline attaches to it (never starts
 * it), network faults act on the proxy and process faults on the process, all checked from outside; `down`
 * leaves the process running, because faultline never stops what it did not start.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ChaosClient } from '../../src/controller/client.ts';
import { chaosToken } from '../../src/controller/token.ts';
import { processStartTicks } from '../../src/core/process.ts';
import { isPortFree } from '../../src/supervisor/health.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/faultline', import.meta.url).pathname;
const faultline = (args: string[]): Promise<{ stdout: string; stderr: string }> => run(process.execPath, [BIN, ...args], { timeout: 90_000 });

async function freePortRange(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const base = 13_000 + Math.floor(Math.random() * 12) * 1_000 + 500;
    if ((await Promise.all([0, 80, 474].map((o) => isPortFree(base + o)))).every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

async function timedGet(url: string, timeoutMs: number): Promise<{ status: number; ms: number } | { error: string; ms: number }> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return { status: res.status, ms: performance.now() - t0 };
  } catch (err) {
    return { error: (err as Error).name, ms: performance.now() - t0 };
  }
}

describe('an attached service (started outside faultline)', { timeout: 180_000 }, () => {
  let dir = '';
  let base = 0;
  let app: ChildProcess | undefined;
  let chaos: ChaosClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faultline-attached-'));
    base = await freePortRange();
    // The user's own service: plain node:http, knows nothing of faultline.
    writeFileSync(
      join(dir, 'app.mjs'),
      `import { createServer } from 'node:http';
createServer((req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ ok: true, path: req.url })); })
  .listen(Number(process.env.PORT), '127.0.0.1');`,
    );
    app = spawn(process.execPath, [join(dir, 'app.mjs')], { env: { ...process.env, PORT: String(base) }, stdio: 'ignore', detached: true });
    for (let i = 0; i < 100 && !('status' in (await timedGet(`http://127.0.0.1:${base}/`, 200))); i++) await new Promise((r) => setTimeout(r, 50));
    writeFileSync(
      join(dir, 'faultline.yaml'),
      `name: attached-demo
base_port: ${base}
services:
  app: { type: attached, port: ${base}, health: { http: /healthz } }
dependencies:
  app: { upstream: app, listen: "+80" }
entry:
  via: app
  endpoints:
    home: { method: GET, path: /, slo: { latency_p99_ms: 250, error_rate: 0.01 } }
`,
    );
    await faultline(['up', '--detach', '--system', join(dir, 'faultline.yaml'), '--state-dir', join(dir, 'state')]);
    const status = JSON.parse(readFileSync(join(dir, 'state', 'status.json'), 'utf8')) as { controller_url: string };
    chaos = new ChaosClient(status.controller_url, chaosToken(join(dir, 'state')));
  });

  after(async () => {
    await faultline(['down', '--state-dir', join(dir, 'state')]).catch(() => {});
    const alive = app?.pid !== undefined && processStartTicks(app.pid) !== null;
    try {
      process.kill(-app!.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
    rmSync(dir, { recursive: true, force: true });
    assert.ok(alive, 'down stopped a process faultline did not start');
  });

  test('faultline attached to the running process and fronts it with a proxy, without starting anything', async () => {
    const { stdout } = await faultline(['status', '--state-dir', join(dir, 'state')]);
    assert.match(stdout, new RegExp(`app\\s+running\\s+${app!.pid}`));
    const direct = await timedGet(`http://127.0.0.1:${base + 80}/hello`, 2_000);
    assert.ok('status' in direct && direct.status === 200, JSON.stringify(direct));
    const status = JSON.parse(readFileSync(join(dir, 'state', 'status.json'), 'utf8')) as { controller_url: string };
    const { targets } = (await (await fetch(`${status.controller_url}/chaos/targets`)).json()) as { targets: { name: string; proxy: string | null }[] };
    assert.ok(targets.some((t) => t.name === 'app' && t.proxy === 'app'), JSON.stringify(targets));
  });

  test('a network fault on its proxy: 300 ms latency seen by a client, gone after revert', async () => {
    const f = await chaos.inject({ type: 'latency', target: 'app', params: { delay_ms: 300 }, duration_s: 30 });
    const slow = await timedGet(`http://127.0.0.1:${base + 80}/`, 5_000);
    assert.ok('status' in slow && slow.ms >= 300, JSON.stringify(slow));
    await chaos.revert(f.id);
    const fast = await timedGet(`http://127.0.0.1:${base + 80}/`, 5_000);
    assert.ok('status' in fast && fast.ms < 300, JSON.stringify(fast));
  });

  test('a process fault on the attached process: pause makes it answer nothing until reverted', async () => {
    const f = await chaos.inject({ type: 'pause', target: 'app', duration_s: 30 });
    const state = readFileSync(`/proc/${app!.pid}/stat`, 'utf8').replace(/^.*\) /, '')[0];
    assert.equal(state, 'T');
    const frozen = await timedGet(`http://127.0.0.1:${base}/`, 500);
    assert.ok('error' in frozen, `a paused process answered: ${JSON.stringify(frozen)}`);
    await chaos.revert(f.id);
    const back = await timedGet(`http://127.0.0.1:${base}/`, 2_000);
    assert.ok('status' in back && back.status === 200, JSON.stringify(back));
  });

  test('an experiment on the attached service gets a verdict from its users: a 4 s pause breaks availability, then heals', async (t) => {
    writeFileSync(join(dir, 'mix.yaml'), 'name: home\nendpoints:\n  - { name: home, weight: 1, method: GET, path: / }\n');
    writeFileSync(
      join(dir, 'pause.yaml'),
      `title: attached pause
hypothesis:
  name: the app answers throughout a 4 s pause
  window_s: 2
  sli:
    - { name: home_availability, metric: availability, endpoint: home, steady_state: 0.99, critical: true }
windows: { warmup_s: 2, baseline_s: 6, fault_s: 4, recovery_s: 6 }
load: { rate: 40, mix: mix.yaml, seed: 3, timeout_ms: 1000 }
faults: [{ type: pause, target: app }]
recovery: { consecutive_s: 2 }
`,
    );
    const { stdout } = await faultline(['run', join(dir, 'pause.yaml'), '--json', '--state-dir', join(dir, 'state'), '--out', join(dir, 'run')]).catch((e: { stdout: string }) => e);
    const v = JSON.parse(stdout) as { result: string; reasons: string[]; figures_source: string; fault_availability: number | null; mttr_s: number | null; slis: { evidence: { fault: { n: number } } }[] };
    if (v.result === 'invalid') {
      // The machine, not the app, shaped the run (the generator says so): no claim either way.
      t.skip(`unmeasurable on this machine (${v.reasons[0]})`);
      return;
    }
    // A frozen process answers nothing: the critical SLI fails, from users' requests, and the app heals after.
    assert.equal(v.result, 'failed', v.reasons.join('; '));
    assert.equal(v.figures_source, 'users');
    assert.ok(v.fault_availability !== null && v.fault_availability < 0.5 && v.slis[0].evidence.fault.n > 100, JSON.stringify(v));
    assert.equal(typeof v.mttr_s, 'number');
  });
});

