/**
 * The run's guarantees on a failure in flight, against real parts on loopback: a real HTTP service behind a real
 * fault proxy, a real controller with its chaos API, a real mitigations switch, the real load generator. The
 * experiment's fault target is made busy after the preflight (a fault someone else injected), so the inject
 * fails mid-run: the run is written and judged invalid, every fault it injected is reverted, and the
 * mitigations switch gets back exactly what it had before.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createChaosApi } from '../controller/api.ts';
import { ChaosClient } from '../controller/client.ts';
import { Controller } from '../controller/controller.ts';
import { startProxyServer } from '../proxy/server.ts';
import { runExperiment } from './run.ts';
import { loadExperiment } from './schema.ts';
import type { RunTarget } from './target.ts';

test('a failure after the mitigations were applied: invalid verdict, run dir written, switch restored, nothing left injected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'faultline-runfail-'));
  let settings: unknown = { preset: 'none' };
  const posts: unknown[] = [];
  const app: Server = createServer((req, res) => {
    if (req.url === '/__switch') {
      if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(settings));
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        settings = JSON.parse(body);
        posts.push(settings);
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      });
      return;
    }
    res.writeHead(200).end('ok');
  }).listen(0, '127.0.0.1');
  await new Promise((r) => app.once('listening', r));
  const appPort = (app.address() as AddressInfo).port;
  const server = await startProxyServer({ port: 0 });
  const controller = await Controller.open({
    stateDir: join(dir, 'state'),
    targets: [
      { name: 'app', proxy: { api: server.url, name: 'app' } },
      { name: 'dep', proxy: { api: server.url, name: 'dep' } },
    ],
  });
  server.mount(createChaosApi(controller, { token: 't' }));
  try {
    const entry = await server.createProxy({ name: 'app', upstream: `127.0.0.1:${appPort}` });
    await server.createProxy({ name: 'dep', upstream: '127.0.0.1:9' });
    writeFileSync(join(dir, 'mix.yaml'), 'name: home\nendpoints:\n  - { name: home, weight: 1, method: GET, path: / }\n');
    writeFileSync(
      join(dir, 'exp.yaml'),
      `title: busy target
hypothesis:
  name: h
  sli: [{ name: home_availability, metric: availability, endpoint: home, steady_state: 0 }]  # never blocks the fault phase
windows: { warmup_s: 0, baseline_s: 2, fault_s: 2, recovery_s: 1 }
load: { rate: 20, mix: mix.yaml, seed: 5, timeout_ms: 1000 }
faults: [{ type: latency, target: dep, params: { delay_ms: 10 } }]
mitigations: { preset: all }
`,
    );
    const chaos = new ChaosClient(server.url, 't');
    const target: RunTarget = {
      view: {
        system: 'unit',
        controllerUrl: server.url,
        entryUrl: `http://${entry.listen}`,
        entryService: 'app',
        endpoints: {},
        scrape: [],
        switches: { app: `http://127.0.0.1:${appPort}/__switch` },
        integrity: [],
        counters: [],
        services: { app: ['app'], dep: ['dep'] },
      },
      chaos,
      scrape: [],
      mixEnv: {},
      where: { state_dir: dir, base_port: null, system_file: null },
    };
    // Someone else takes the fault's target once the run is under way (after its preflight passed).
    const squatter = setTimeout(() => void chaos.inject({ type: 'latency', target: 'dep', params: { delay_ms: 1 }, duration_s: 60 }), 800);
    const out = join(dir, 'run');
    const { verdict } = await runExperiment(loadExperiment(join(dir, 'exp.yaml')), target, { outDir: out });
    clearTimeout(squatter);
    assert.equal(verdict.result, 'invalid', verdict.reasons.join('; '));
    assert.match(verdict.reasons.join('; '), /inject of latency@dep .* failed \(not injected\)/);
    for (const f of ['run.json', 'verdict.json', 'report.md', 'requests.jsonl']) assert.ok(existsSync(join(out, f)), `${f} written`);
    // The switch took the experiment's block, then got its own settings back.
    assert.deepEqual(posts, [{ preset: 'all' }, { preset: 'none' }]);
    assert.deepEqual(settings, { preset: 'none' });
    // Nothing the run injected is in effect; only the squatter's fault is.
    const active = controller.list().filter((r) => r.phase === 'injected');
    assert.deepEqual(active.map((r) => r.params.delay_ms), [1]);
  } finally {
    await controller.halt();
    controller.close();
    await server.close();
    app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
