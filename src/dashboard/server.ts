/**
 * The dashboard's routes on the controller port, mounted before the proxy API: the static page (our HTML, JS
 * and CSS plus uPlot from node_modules — nothing from a CDN), the JSON it polls, and past run reports,
 * read-only. It alone owns what the browser may read and the headers that keep other origins out; mutations
 * are not here at all — the page calls the chaos API with the bearer token the user handed it.
 *
 *   GET /ui/                      the page             GET /ui/api/series?since=<ms>  derived series (Ring)
 *   GET /ui/app.js, /ui/app.css   our assets           GET /ui/api/faults             active + recent faults
 *   GET /ui/vendor/uplot.*        uPlot, local         GET /ui/api/status             SLOs, experiments, runs
 *   GET /ui/runs/<name>/report.html                    a past run's report (self-contained, no script)
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { publicRecord } from '../controller/api.ts';
import type { Controller } from '../controller/controller.ts';
import { FAULT_TYPES } from '../faults/registry.ts';
import { AGENT_HUB } from '../agent/hub.ts';
import type { MountedHandler } from '../proxy/server.ts';
import type { Collector } from './collector.ts';
import type { ExperimentBoard } from './experiments.ts';

const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));
/** uPlot's dist folder, wherever npm put the package. */
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot'));

/** File served → where it is and its type; nothing outside this table is ever read for /ui/. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/ui/': { file: join(STATIC_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/ui/app.js': { file: join(STATIC_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/ui/app.css': { file: join(STATIC_DIR, 'app.css'), type: 'text/css; charset=utf-8' },
  '/ui/vendor/uplot.js': { file: join(UPLOT_DIR, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/ui/vendor/uplot.css': { file: join(UPLOT_DIR, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/**
 * Same-origin only, no inline script: a token in sessionStorage is readable by script on this origin alone.
 * uPlot sets element styles from script (CSSOM), which style-src does not restrict; 'unsafe-inline' covers the
 * few style attributes it writes as markup.
 */
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** Run reports carry inline CSS and SVG and no script; they get no script at all. */
const REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'";

export interface DashboardOptions {
  collector: Collector;
  controller: Controller;
  board: ExperimentBoard;
  /** Host names the page may be reached under; anything else is refused, which defeats DNS rebinding. */
  allowedHosts?: readonly string[];
}

/**
 * @example
 *   proxies.mount(createDashboard({ collector, controller, board }));
 *   // then open http://127.0.0.1:27474/ui/
 */
export function createDashboard(options: DashboardOptions): MountedHandler {
  const hosts = new Set(options.allowedHosts ?? ['127.0.0.1', 'localhost', '[::1]']);
  const cache = new Map<string, Buffer>();
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    if (path !== '/ui' && !path.startsWith('/ui/')) return false;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (!hosts.has(host)) return send(res, 403, 'text/plain; charset=utf-8', `the dashboard answers on ${[...hosts].join(', ')} only\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'read-only: mutations go to /chaos/*\n');
    if (path === '/ui') {
      res.writeHead(308, { location: '/ui/' });
      res.end();
      return true;
    }
    const asset = ASSETS[path];
    if (asset) {
      let body = cache.get(asset.file);
      if (body === undefined) {
        body = await readFile(asset.file);
        // Vendor files never change while the daemon runs; our own are re-read so an edit shows on reload.
        if (path.startsWith('/ui/vendor/')) cache.set(asset.file, body);
      }
      return send(res, 200, asset.type, body, path === '/ui/' ? { 'content-security-policy': PAGE_CSP } : {});
    }
    if (path === '/ui/api/series') {
      const since = Number(url.searchParams.get('since') ?? '0');
      const data = options.collector.ring.since(Number.isFinite(since) ? since : 0);
      return json(res, { interval_ms: options.collector.intervalMs, capacity: options.collector.ring.capacity, services: options.collector.services, panels: options.collector.panelTitles, ...data });
    }
    if (path === '/ui/api/faults') {
      return json(res, { now: Date.now() / 1000, faults: options.controller.list().map(publicRecord) });
    }
    if (path === '/ui/api/status') {
      return json(res, {
        now: Date.now(),
        last_round: options.collector.lastRound,
        slo: options.collector.slo(),
        experiments: options.board.snapshot(),
        runs: options.board.runs().slice(0, 30),
        targets: options.controller.targets().map((t) => t.name),
        fault_types: [...FAULT_TYPES.keys()],
        // What each runtime agent saw its service call (src/agent): one row per dependency.
        agents: options.controller
          .targets()
          .filter((t) => t.agent !== undefined)
          .map((t) => {
            const view = AGENT_HUB.describe(t.agent!.service);
            const deps = view?.discovery?.dependencies ?? [];
            return { name: t.name, connected: view?.connected ?? false, dependencies: deps.map((d) => ({ id: d.id, protocol: d.protocol, calls: d.calls, errors: d.errors, p99_ms: d.latency.p99_ms, operations: d.operations.length })) };
          }),
      });
    }
    const run = /^\/ui\/runs\/([^/]+)\/report\.html$/.exec(path);
    if (run) {
      let name: string;
      try {
        name = decodeURIComponent(run[1]);
      } catch {
        return send(res, 400, 'text/plain; charset=utf-8', 'malformed percent-escape in the run name\n');
      }
      const file = options.board.reportPath(name);
      if (file === undefined) return send(res, 404, 'text/plain; charset=utf-8', 'no such run report\n');
      return send(res, 200, 'text/html; charset=utf-8', await readFile(file), { 'content-security-policy': REPORT_CSP });
    }
    return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  };
}

function json(res: ServerResponse, body: unknown): true {
  return send(res, 200, 'application/json', JSON.stringify(body));
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): true {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    ...extra,
  });
  res.end((res.req as IncomingMessage | undefined)?.method === 'HEAD' ? undefined : body);
  return true;
}
