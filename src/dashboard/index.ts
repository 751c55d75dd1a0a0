/**
 * The live dashboard, wired into a running controller: one collector scraping the lab, the experiments board
 * the runner reports to, and the /ui routes. The daemon calls `attachDashboard` once its proxies and
 * controller exist; this module alone decides what the dashboard scrapes and where run reports are read from.
 *
 *   lab /metrics ─▶ Collector ─▶ Ring ─┐
 *   controller (faults) ──────────────┼─▶ /ui/api/* ─▶ page (uPlot) ─Bearer─▶ /chaos/* (inject, revert, halt)
 *   runner ─▶ /chaos/experiments/status ─▶ ExperimentBoard ─┘
 */
import { resolve } from 'node:path';
import type { Controller } from '../controller/controller.ts';
import type { ProxyServer } from '../proxy/server.ts';
import { Collector, type DashboardMetrics, type EndpointSlo } from './collector.ts';
import { createDashboard } from './server.ts';
import { ExperimentBoard } from './experiments.ts';

export { Collector, slosFromEndpoints } from './collector.ts';
export { ExperimentBoard } from './experiments.ts';

/**
 * Where the dashboard looks for past runs: `FAULTLINE_RUNS_DIR`, else `runs/` under the daemon's working
 * directory — where `faultline run` writes by default when started from the same place. Runs written elsewhere
 * (`--out`) still get a link: the runner reports its dir with its final status.
 */
export function defaultRunsDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.FAULTLINE_RUNS_DIR ?? 'runs');
}

/**
 * The board on its own: the daemon hands it to the chaos API before the dashboard routes exist.
 * `experimentsDir`: where the system's committed experiments are (the schedule the board shows).
 */
export function createExperimentBoard(experimentsDir: string, runsDir = defaultRunsDir()): ExperimentBoard {
  return new ExperimentBoard({ runsDir, experimentsDir });
}

export interface AttachedDashboard {
  readonly url: string;
  readonly collector: Collector;
  /** Starts scraping (call once the services are up, so the first rounds are not all gaps). */
  start(): void;
  stop(): Promise<void>;
}

/**
 * Mounts /ui on the controller's port and prepares a collector over every lab node service.
 * @example const ui = attachDashboard({ proxies, controller, specs, board }); await manager.startAll(); ui.start();
 */
export function attachDashboard(options: {
  proxies: ProxyServer;
  controller: Controller;
  /** Every service with metrics, and where they are. */
  targets: readonly { service: string; url: string }[];
  board: ExperimentBoard;
  /** The service users reach first (the system's entry): its SLIs head the page. */
  edge: string;
  /** Its endpoints' SLOs (from the system file's entry). */
  slos: readonly EndpointSlo[];
  /** The services' own metrics as the system file names them (server_metrics). */
  metrics?: DashboardMetrics;
}): AttachedDashboard {
  const collector = new Collector({ targets: [...options.targets], edge: options.edge, slos: options.slos, ...(options.metrics ? { metrics: options.metrics } : {}) });
  options.proxies.mount(createDashboard({ collector, controller: options.controller, board: options.board }));
  return {
    url: `${options.proxies.url}/ui/`,
    collector,
    start: () => collector.start(),
    stop: () => collector.stop(),
  };
}
