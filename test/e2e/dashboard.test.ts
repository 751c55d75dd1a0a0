/**
 * The live dashboard end to end, on ONE lab: `faultline up --detach`, `faultline dashboard` for the signed-in
 * link, then Debian's Chromium (driven by playwright-core) opens it; the page injects latency on payments, a
 * bounded loop of POST /orders through api makes the write-path p99 panel rise under a shaded fault window,
 * HALT ALL reverts it; screenshots along the way (test/e2e/out/, git-ignored); no console errors. Also: the
 * runner's status hook shows on the page, the page refuses nothing without a token it should not, and promtool
 * accepts deploy/prometheus/prometheus.yml. Skips (saying why) without chromium, or without the lab's
 * prerequisites.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { missingLabPrerequisites } from '../../src/supervisor/launch.ts';
import { CONTROLLER_PORT_OFFSET, LAB_SERVICES } from '../../src/supervisor/topology.ts';
import { freeBasePort } from '../helpers/lab.ts';

const run = promisify(execFile);
const BIN = new URL('../../bin/faultline', import.meta.url).pathname;
const OUT = new URL('./out/', import.meta.url).pathname;
const CHROMIUM = process.env.FAULTLINE_CHROMIUM ?? '/usr/bin/chromium';
const missing = [...missingLabPrerequisites(), ...(existsSync(CHROMIUM) ? [] : [`chromium (${CHROMIUM}; add it with npm run setup)`])];
const skip = missing.length > 0 ? `dashboard test needs: ${missing.join('; ')}` : false;
if (skip) process.stdout.write(`# skipping the browser part of test/e2e/dashboard.test.ts — ${skip}\n`);
const say = (line: string): void => void process.stdout.write(`# ${line}\n`);

/** A base port whose whole lab range is free (below the ephemeral range, as in lab.test.ts). */
function faultline(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [BIN, ...args], { timeout: 90_000 });
}

/** The status code of a GET sent with a chosen Host header (fetch will not let us set one). */
function statusWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

/** Polls `check` every 250 ms until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('deploy/ for Prometheus and Grafana', () => {
  const root = new URL('../../deploy/', import.meta.url).pathname;
  const hasPromtool = (() => {
    try {
      execFileSync('promtool', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  test('promtool accepts the lab scrape config', { skip: hasPromtool ? false : 'promtool not installed (npm run setup)' }, async () => {
    const { stdout } = await run('promtool', ['check', 'config', join(root, 'prometheus/prometheus.yml')]);
    assert.match(stdout, /SUCCESS/);
  });

  test('the Grafana dashboard queries the lab metrics and annotates faults from faultline_fault_active', () => {
    const dash = JSON.parse(readFileSync(join(root, 'grafana/dashboards/faultline-lab.json'), 'utf8'));
    const exprs: string[] = dash.panels.flatMap((p: { targets?: { expr: string }[] }) => (p.targets ?? []).map((t) => t.expr));
    for (const metric of ['lab_http_request_duration_seconds_bucket', 'lab_http_requests_in_flight', 'nodejs_eventloop_lag_p99_seconds', 'lab_pg_pool_connections', 'lab_dependency_call_duration_seconds_bucket', 'lab_replication_lag_seconds', 'lab_breaker_state']) {
      assert.ok(exprs.some((e) => e.includes(metric)), `no panel queries ${metric}`);
    }
    const faults = dash.annotations.list.find((a: { name: string }) => a.name === 'faults');
    assert.match(faults.expr, /faultline_fault_active/);
    assert.equal(faults.datasource.uid, 'faultline-prometheus');
  });
});

describe('the live dashboard', { skip, timeout: 150_000 }, () => {
  let stateDir = '';
  let base = 0;
  let controller = '';
  let browser: Browser | undefined;
  let page: Page | undefined;
  const consoleErrors: string[] = [];
  let shot = 0;
  const screenshot = async (name: string): Promise<void> => {
    const file = join(OUT, `dashboard-${String(++shot).padStart(2, '0')}-${name}.png`);
    await page!.screenshot({ path: file, fullPage: false });
    say(`screenshot ${file}`);
  };
  /** The write-path p99 (ms) the page shows now, from its panel's data-last. */
  const writeP99 = async (): Promise<number | null> => {
    const raw = await page!.getAttribute('#panel-endpoints-p99_ms', 'data-last');
    return raw ? ((JSON.parse(raw) as Record<string, number | null>)['POST /orders'] ?? null) : null;
  };

  before(async () => {
    mkdirSync(OUT, { recursive: true });
    stateDir = mkdtempSync(join(tmpdir(), 'faultline-dash-'));
    base = await freeBasePort();
    controller = `http://127.0.0.1:${base + CONTROLLER_PORT_OFFSET}`;
    const t0 = Date.now();
    await faultline(['up', '--detach', '--state-dir', stateDir, '--base-port', String(base)]);
    say(`lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  });

  after(async () => {
    // The page first (its poll would log refused connections), then the lab, then the files.
    await page?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    if (stateDir) {
      await faultline(['down', '--state-dir', stateDir]).catch((err: Error) => say(`down failed: ${err.message}`));
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  test('read-only without the token: panels load, inject and halt are disabled, the API refuses a tokenless browser', async () => {
    const { stdout } = await faultline(['dashboard', '--state-dir', stateDir, '--read-only']);
    assert.equal(stdout.trim(), `${controller}/ui/`);
    await page!.goto(stdout.trim());
    await page!.waitForSelector('#panel-endpoints-p99_ms');
    assert.equal(await page!.isDisabled('#halt'), true);
    assert.equal(await page!.isDisabled('#f-submit'), true);
    // What the page would send without a token (a browser request: an Origin header) is refused.
    const halt = await fetch(`${controller}/chaos/faults`, { method: 'DELETE', headers: { origin: controller } });
    assert.equal(halt.status, 401);
    // DNS rebinding: another Host name gets nothing from /ui.
    assert.equal(await statusWithHost(`${controller}/ui/api/status`, 'evil.example'), 403);
    assert.equal(await statusWithHost(`${controller}/ui/api/status`, `localhost:${base + CONTROLLER_PORT_OFFSET}`), 200);
  });

  test('inject latency on payments from the page, watch write p99 rise under the fault window, halt all', async () => {
    const p = page!;
    const { stdout } = await faultline(['dashboard', '--state-dir', stateDir]);
    assert.match(stdout, /\/ui\/#token=[0-9a-f]+/);
    await p.goto('about:blank');
    await p.goto(stdout.trim());
    // The token moves to sessionStorage and off the address bar.
    assert.equal(new URL(p.url()).hash, '');
    await p.waitForSelector('#halt:not([disabled])');

    // Bounded write traffic through api: ~20 rps from 4 workers until stopped (at most 60 s).
    const api = `http://127.0.0.1:${base + LAB_SERVICES.find((r) => r.name === 'api')!.proxy!}`;
    const labToken = (await faultline(['token', '--state-dir', stateDir])).stdout.trim();
    const traffic = new AbortController();
    const stopAt = Date.now() + 60_000;
    let sent = 0;
    let failed = 0;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !traffic.signal.aborted && Date.now() < stopAt; i++) {
        const started = Date.now();
        try {
          const res = await fetch(`${api}/orders`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${labToken}` },
            body: JSON.stringify({ customer_id: w + 1, amount_cents: 100 + i, idempotency_key: `dash-${w}-${i}-${started}` }),
            signal: AbortSignal.timeout(5000),
          });
          await res.arrayBuffer();
          sent++;
          if (res.status >= 500) failed++;
        } catch {
          failed++;
        }
        await new Promise((r) => setTimeout(r, Math.max(0, 200 - (Date.now() - started))));
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    try {
      await until('a first write p99 on the page', async () => (await writeP99()) ?? undefined, 15_000);
      // A few seconds of warm traffic: the first writes after start-up pay for cold pools and caches.
      await p.waitForTimeout(5000);
      const baseline = (await writeP99())!;
      say(`baseline write p99 on the page: ${baseline.toFixed(1)} ms`);
      await screenshot('baseline');

      await p.fill('#f-type', 'latency');
      await p.selectOption('#f-target', 'payments');
      await p.fill('#f-params', '{"delay_ms": 400}');
      await p.fill('#f-duration', '90');
      await p.click('#f-submit');
      await p.waitForSelector('#f-msg.ok');
      assert.match((await p.textContent('#f-msg')) ?? '', /injected latency → payments/);
      await p.waitForSelector('#faults li.active');

      const risen = await until('the write p99 panel to rise above 400 ms', async () => {
        const v = await writeP99();
        return v !== null && v >= 400 && v > baseline + 150 ? v : undefined;
      }, 20_000);
      say(`write p99 under 400 ms payments latency: ${risen.toFixed(0)} ms`);
      // A few more seconds under the fault, so its window is wide enough to see in the screenshots.
      await p.waitForTimeout(4000);
      const windows = Number(await p.getAttribute('#panel-endpoints-p99_ms', 'data-fault-windows'));
      assert.ok(windows >= 1, 'the fault window is drawn on the write p99 panel');
      // …and on every service panel too.
      const perPanel = await p.$$eval('.panel[data-key]', (els) => els.map((e) => Number(e.getAttribute('data-fault-windows'))));
      assert.ok(perPanel.length > 20 && perPanel.every((n) => n >= 1), `fault window on every panel: ${perPanel.join(',')}`);
      await until('the SLO table to flag POST /orders', async () => (await p.textContent('#slo tr[data-endpoint="POST /orders"] td.breach')) ?? undefined, 10_000);
      await screenshot('fault-active');
      await p.evaluate("document.querySelector('#group-orders-1').parentElement.scrollIntoView()");
      await screenshot('fault-active-services');
      await p.evaluate('window.scrollTo(0, 0)');

      await p.click('#halt');
      await p.waitForSelector('#f-msg.ok >> text=/halted: 1 reverted/');
      await until('no active fault in the list', async () => (await p.$('#faults li.active')) === null, 5000);
      const faults = (await (await fetch(`${controller}/chaos/faults`)).json()) as { faults: { phase: string }[] };
      assert.ok(faults.faults.every((f) => f.phase !== 'injected'));
      await p.waitForTimeout(3000);
      await screenshot('after-halt');
    } finally {
      traffic.abort();
      await Promise.all(workers);
    }
    say(`write traffic: ${sent} requests, ${failed} failed`);
    assert.ok(sent > 50);
  });

  test('the runner status hook: phase and verdict show on the page, with a link to the run report', async () => {
    const p = page!;
    const token = readFileSync(join(stateDir, 'chaos-token'), 'utf8').trim();
    const runDir = join(stateDir, 'runs-elsewhere', 'dash-run');
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'report.html'), '<!doctype html><title>r</title><p>report</p>');
    const post = (body: unknown): Promise<Response> =>
      fetch(`${controller}/chaos/experiments/status`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    assert.equal((await post({ run_id: 'r1', title: 'payments latency', phase: 'fault', left_s: 20 })).status, 200);
    await p.waitForSelector('#experiment >> text=/running experiment: payments latency · phase fault/');
    const bad = await post({ run_id: 'r1', title: 'x', phase: 'nope' });
    assert.equal(bad.status, 400);
    assert.equal((await post({ run_id: 'r1', title: 'payments latency', phase: 'done', dir: runDir, verdict: { result: 'degraded', baseline_p99: 60, fault_p99: 480, mttr_s: 3 } })).status, 200);
    await p.waitForSelector('#experiment .result-degraded');
    const listed = (await (await fetch(`${controller}/chaos/experiments`)).json()) as { running: unknown; recent: { verdict?: { result: string } }[] };
    assert.equal(listed.running, null);
    assert.equal(listed.recent[0].verdict?.result, 'degraded');
    const link = await p.waitForSelector('#runs a >> text=dash-run');
    const href = await link.getAttribute('href');
    const report = await fetch(`${controller}${href}`);
    assert.equal(report.status, 200);
    assert.match(await report.text(), /report/);
    assert.equal((await fetch(`${controller}/ui/runs/..%2F..%2Fchaos-token/report.html`)).status, 404);
    await screenshot('experiment-verdict');
    assert.deepEqual(consoleErrors, []);
  });
});
