/**
 * report.html as a person opens it: a synthetic run (baseline, a 20 s fault that slows and fails writes, a
 * recovery tail) is written by the runner's own `writeRun`, then loaded over file:// in headless Debian Chromium
 * driven by playwright-core. The page must lay out one chart per SLI with the fault window shaded where the fault
 * was, the lines drawn, and nothing on the console. A full-page screenshot is taken (kept when
 * FAULTLINE_SCREENSHOT_DIR is set, so a person can look at it). No lab needed.
 *
 *   synthetic SeriesStore ─▶ computeVerdict + timeline ─▶ writeRun ─▶ <tmp>/run/report.html ─ file:// ─▶ Chromium
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { SeriesStore } from '../../metrics/store.ts';
import { computeVerdict, timeline, type Marks } from '../evaluate.ts';
import { writeRun, type RunRecord } from '../record.ts';
import { parseExperiment } from '../schema.ts';
import { resolvedForTests } from '../testing.ts';

const CHROMIUM = '/usr/bin/chromium';
const hasPlaywright = ((): boolean => {
  try {
    createRequire(import.meta.url).resolve('playwright-core');
    return true;
  } catch {
    return false;
  }
})();
const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} missing (Debian package chromium: add it with npm run setup): the browser render test is skipped`
  : !hasPlaywright
    ? 'playwright-core is not installed (npm install): the browser render test is skipped'
    : false;

/** The browser globals the in-page probe uses: the project compiles without the DOM lib. */
type InPage = { getComputedStyle(e: unknown): { fill: string; fillOpacity: string } };

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const S = 1000;

/**
 * Sixty seconds of the api's POST /orders at 20 requests/s: 20 s of baseline at 30 ms; 20 s of fault with half
 * the requests at 300 ms and 1 in 20 answered 503; then 4 s of 200 ms stragglers before it is fast again.
 */
function syntheticRun(): { store: SeriesStore; marks: Marks } {
  const store = new SeriesStore();
  const les = ['0.05', '0.1', '0.25', '0.5', '+Inf'];
  const bounds = [0.05, 0.1, 0.25, 0.5, Infinity];
  const cum = { '201': [0, 0, 0, 0, 0], '503': [0, 0, 0, 0, 0] };
  const observe = (status: '201' | '503', seconds: number, n: number): void => {
    bounds.forEach((b, i) => {
      if (seconds <= b) cum[status][i] += n;
    });
  };
  for (let sec = 0; sec <= 60; sec++) {
    if (sec > 0 && sec <= 20) observe('201', 0.03, 20);
    else if (sec > 20 && sec <= 40) {
      observe('201', 0.03, 9);
      observe('201', 0.3, 10);
      observe('503', 0.03, 1);
    } else if (sec > 40 && sec <= 44) {
      observe('201', 0.03, 15);
      observe('201', 0.2, 5);
    } else if (sec > 44) observe('201', 0.03, 20);
    const t = T0 + sec * S;
    for (const status of ['201', '503'] as const) {
      const labels = { service: 'api', method: 'POST', route: '/orders', status };
      les.forEach((le, i) => store.add(t, 'lab_http_request_duration_seconds_bucket', { ...labels, le }, cum[status][i]));
      store.add(t, 'lab_http_request_duration_seconds_count', labels, cum[status][4]);
    }
    store.add(t, 'up', { service: 'api' }, 1);
  }
  const marks: Marks = { start: T0, baseline_start: T0, fault_start: T0 + 20 * S, first_inject: T0 + 20 * S, last_revert: T0 + 40 * S, fault_end: T0 + 40 * S, recovery_end: T0 + 60 * S };
  return { store, marks };
}

test('report.html renders in headless Chromium: one chart per SLI, the fault window shaded, no console errors', { skip, timeout: 30_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'faultline-render-'));
  const keepDir = process.env.FAULTLINE_SCREENSHOT_DIR;
  let context: import('playwright-core').BrowserContext | undefined;
  try {
    const { store, marks } = syntheticRun();
    const experiment = resolvedForTests(parseExperiment(
      {
        title: 'payments latency (synthetic)',
        hypothesis: {
          name: 'writes stay fast and mostly succeed while payments is slow',
          window_s: 5,
          sli: [
            { name: 'write_p99_ms', source: 'server', metric: 'latency_ms', route: '/orders', method: 'POST', steady_state: 100, slo_threshold: 400 },
            { name: 'write_errors', source: 'server', metric: 'error_rate', route: '/orders', method: 'POST', steady_state: 0.01, slo_threshold: 0.02 },
          ],
        },
        windows: { warmup_s: 0, baseline_s: 20, fault_s: 20, recovery_s: 20 },
        load: { rate: 20, seed: 1 },
        faults: [{ type: 'latency', target: 'payments', params: { delay_ms: 300 } }],
        integrity: { enabled: false },
      },
      join(tmp, 'synthetic.yaml'),
    ));
    const verdict = computeVerdict({ experiment, store, marks });
    const record: RunRecord = {
      faultline_run: 1,
      experiment,
      experiment_text: 'title: payments latency (synthetic)\n',
      started_at: new Date(T0).toISOString(),
      ended_at: new Date(T0 + 60 * S).toISOString(),
      marks,
      fault_events: [{ id: 'f1', fault_type: 'latency', target: 'payments', params: { delay_ms: 300 }, mechanism: 'proxy', t_start: (T0 + 20 * S) / 1000, t_stop: (T0 + 40 * S) / 1000, t_planned_stop: (T0 + 40 * S) / 1000 }],
      mitigations: { requested: {}, applied: 'none requested' },
      notes: [],
      load_summary: null,
      lab: { base_port: 27000, state_dir: tmp },
      timeline: timeline(store, experiment, T0, T0 + 60 * S, [T0, T0 + 20 * S, T0 + 40 * S]),
    };
    const runDir = join(tmp, 'run');
    writeRun(runDir, record, verdict, store, '');
    const reportPath = join(runDir, 'report.html');
    assert.ok(existsSync(reportPath));

    const { chromium } = await import('playwright-core');
    // A fresh profile per run: nothing from an earlier run (cache, crash state) can change what we see.
    context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 900, height: 1000 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    // The report promises to be self-contained: anything but the file itself is a request it should not make.
    page.on('request', (r) => {
      if (r.url() !== pathToFileURL(reportPath).href) problems.push(`unexpected request: ${r.url()}`);
    });
    await page.goto(pathToFileURL(reportPath).href, { waitUntil: 'load' });

    assert.equal(await page.title(), `payments latency (synthetic) — ${verdict.result}`);
    assert.equal(await page.locator('#verdict').innerText(), verdict.result.toUpperCase());
    const charts = await page.$$eval('svg.chart', (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        const fault = svg.querySelector('rect.fault');
        const fb = fault?.getBoundingClientRect();
        const axes = [...svg.querySelectorAll('line.axis')].map((l) => l.getBoundingClientRect());
        const interval = svg.querySelector('path.interval') as unknown as { getTotalLength(): number } | null;
        const css = fault ? (globalThis as unknown as InPage).getComputedStyle(fault) : undefined;
        return {
          width: box.width,
          height: box.height,
          fault: fault && fb ? { left: fb.left, width: fb.width, height: fb.height, fill: css!.fill, opacity: css!.fillOpacity } : null,
          // The plot area: from the y axis to the end of the x axis.
          plot: { left: Math.min(...axes.map((a) => a.left)), right: Math.max(...axes.map((a) => a.right)) },
          intervalLength: interval ? interval.getTotalLength() : 0,
          recovered: svg.querySelector('line.recovered') !== null,
        };
      }),
    );
    assert.equal(charts.length, 2, 'one chart per SLI');
    for (const [i, c] of charts.entries()) {
      assert.ok(c.width >= 700 && c.height >= 200, `chart ${i} laid out at ${c.width}×${c.height}`);
      assert.ok(c.fault, `chart ${i} has the shaded fault window`);
      assert.equal(c.fault.fill, 'rgb(207, 34, 46)', 'the shade takes the stylesheet colour');
      assert.equal(Number(c.fault.opacity), 0.12);
      // The fault ran from 20 s to 40 s of a 60 s run: a third of the plot width, starting a third of the way in
      // (± 2 % of the width for rounding in the SVG coordinates).
      const plotW = c.plot.right - c.plot.left;
      assert.ok(Math.abs((c.fault.left - c.plot.left) / plotW - 1 / 3) < 0.02, `chart ${i}: fault starts at ${((c.fault.left - c.plot.left) / plotW).toFixed(3)} of the plot`);
      assert.ok(Math.abs(c.fault.width / plotW - 1 / 3) < 0.02, `chart ${i}: fault spans ${(c.fault.width / plotW).toFixed(3)} of the plot`);
      assert.ok(c.intervalLength > plotW / 2, `chart ${i}: the per-interval line is drawn (${c.intervalLength.toFixed(0)} px)`);
    }

    const shotDir = keepDir ?? join(tmp, 'shots');
    mkdirSync(shotDir, { recursive: true });
    const shot = join(shotDir, 'report.png');
    await page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.ok(png.readUInt32BE(16) === 900 && png.readUInt32BE(20) > 1000, `screenshot ${png.readUInt32BE(16)}×${png.readUInt32BE(20)}`);
    if (keepDir) process.stderr.write(`screenshot: ${shot}\n`);
    assert.deepEqual(problems, []);
  } finally {
    await context?.close().catch(() => undefined);
    rmSync(tmp, { recursive: true, force: true });
  }
});
