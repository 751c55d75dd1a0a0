/**
 * Preflight against a real controller (journal, fault registry, chaos API on a loopback socket) whose targets are
 * the shop's: an experiment wrong in every way at once is refused before anything starts, each problem named with
 * its path; a sound one comes back resolved with the system file's defaults. No process of the shop runs: the
 * dry run (`POST /chaos/validate`) applies nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createChaosApi } from '../controller/api.ts';
import { ChaosClient } from '../controller/client.ts';
import { Controller } from '../controller/controller.ts';
import type { FaultlineError } from '../core/errors.ts';
import { loadSystem } from '../system/system.ts';
import { runView } from '../system/view.ts';
import { preflight, resolveAgainst } from './preflight.ts';
import { planSuite } from './suite.ts';
import { loadExperiment } from './schema.ts';
import type { RunTarget } from './target.ts';

const SHOP = new URL('../../examples/shop/', import.meta.url).pathname;

describe('preflight: an experiment checked against the system before any load', () => {
  let dir = '';
  let http: Server;
  let controller: Controller;
  let target: RunTarget;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faultline-preflight-'));
    const view = runView(loadSystem(join(SHOP, 'faultline.yaml'), { basePort: 19_000 }));
    // The shop's targets as the supervisor registers them: its proxies, and the shop process by its pid record.
    controller = await Controller.open({
      stateDir: join(dir, 'state'),
      targets: [
        { name: 'redis', proxy: { api: 'http://127.0.0.1:9', name: 'redis' } },
        { name: 'pricing', proxy: { api: 'http://127.0.0.1:9', name: 'pricing' } },
        { name: 'shop', proxy: { api: 'http://127.0.0.1:9', name: 'shop' }, pidFile: join(dir, 'shop.json'), http: 'http://127.0.0.1:19080' },
      ],
    });
    const chaos = createChaosApi(controller, { token: 't' });
    http = createServer((req, res) => void chaos(req, res).then((done) => done || res.writeHead(404).end())).listen(0, '127.0.0.1');
    await new Promise((r) => http.once('listening', r));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    target = { view, chaos: new ChaosClient(url, 't'), scrape: [], mixEnv: {}, where: { state_dir: dir, base_port: 19_000, system_file: null } };
  });

  after(() => {
    http.close();
    controller.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('names every problem at once: fault type, params, target, mitigations, server SLI, counter', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      `title: wrong in every way
hypothesis:
  name: h
  sli:
    - { name: reads, metric: availability, endpoint: get_product, steady_state: 0.99 }
    - { name: server_p99, metric: latency_ms, source: server, service: shop, route: /products/:id, steady_state: 250 }
windows: { warmup_s: 1, baseline_s: 5, fault_s: 5, recovery_s: 5 }
load: { rate: 10, mix: ${join(SHOP, 'mix.yaml')}, seed: 1 }
faults:
  - { type: latncy, target: redis, duration_s: 2 }
  - { type: latency, target: redis, params: { delay_ms: -5 }, offset_s: 2 }
  - { type: kill, target: cache }
integrity: { max_increase: { duplicate_charges: 0 } }
mitigations: { preset: all }
`,
    );
    const err = (await preflight(loadExperiment(file), target).then(
      () => assert.fail('accepted'),
      (e: unknown) => e,
    )) as FaultlineError;
    assert.equal(err.code, 'INVALID_INPUT');
    for (const want of [
      /faults\[0\]\.type: unknown fault type "latncy"/,
      /faults\[1\]\.params\.delay_ms/,
      /faults\[2\]\.target: unknown target "cache"; registered: redis, pricing, shop/,
      /mitigations: shop's system file declares no mitigations switch/,
      /hypothesis\.sli\[1\]\.service: shop declares no metrics/,
      /hypothesis\.sli\[1\]\.histogram: shop's system file names no server_metrics\.http_histogram/,
      /integrity\.max_increase\.duplicate_charges: shop declares no counter "duplicate_charges" \(counters: pricing_calls\)/,
    ]) {
      assert.match(err.message, want);
    }
    assert.match(err.message, /^bad\.yaml: |\/bad\.yaml: /, 'each problem says which file');
  });

  it('a sound experiment comes back with the system file filled in', async () => {
    const exp = await preflight(loadExperiment(join(SHOP, 'experiments', 'pricing-outage.yaml')), target);
    assert.equal(exp.resolved?.system, 'shop');
    assert.equal(exp.resolved?.entry_service, 'shop');
    assert.deepEqual(exp.resolved?.counters, [{ name: 'pricing_calls', metric: 'faultline_proxy_connections_total', labels: { proxy: 'pricing' } }]);
    assert.ok(exp.hypothesis.sli.every((s) => s.service === 'shop' && s.histogram === undefined));
    // Nothing was applied by the dry runs.
    assert.equal(controller.list().length, 0);
  });

  it('the lab: server SLIs read the histogram its system file names, duplicate charges are a declared counter', () => {
    const lab = runView(loadSystem(new URL('../../lab/faultline.yaml', import.meta.url).pathname, { basePort: 27_000 }));
    const { experiment, issues } = resolveAgainst(loadExperiment(new URL('../../experiments/payments-latency-ci.yaml', import.meta.url).pathname), { view: lab, scrape: lab.scrape });
    assert.deepEqual(issues, []);
    assert.ok(experiment.hypothesis.sli.every((s) => s.service === 'api' && s.histogram === 'lab_http_request_duration_seconds'));
    assert.ok(experiment.resolved!.counters.some((c) => c.name === 'duplicate_charges'));
  });

  it('the default suite: the endpoints\' SLOs as hypothesis, one fault per family a target can take, the rest with reasons', async () => {
    const plan = await planSuite(target, { rate: 20, mix: '../mix.yaml' });
    const byFamily = Object.fromEntries(plan.experiments.map((e) => [e.family, `${e.type}@${e.target}`]));
    assert.equal(byFamily.process, 'kill@shop', 'process faults go to the entry service');
    assert.match(byFamily.network, /^latency@(redis|pricing)$/, 'edge faults never go to the users\' own way in');
    assert.ok(!('disk' in byFamily) && plan.skipped.some((s) => s.family === 'disk' && /no size-bounded volume/.test(s.why)), JSON.stringify(plan.skipped));
    const sli = (plan.hypothesis.sli as { name: string; steady_state: number }[]).map((s) => [s.name, s.steady_state]);
    assert.deepEqual(sli, [['get_product_p99_ms', 250], ['get_product_availability', 0.999], ['create_order_p99_ms', 500], ['create_order_error_rate', 0.01]]);
    // Every generated experiment passes the same preflight a run does.
    const { parseExperiment } = await import('./schema.ts');
    for (const e of plan.experiments) await preflight(parseExperiment(e.body, join(SHOP, 'experiments', e.file)), target);
    assert.equal(controller.list().length, 0);
  });
});
