/**
 * The lab topology: which processes make up the reference system, on which ports, behind which fault proxy,
 * after what, and how each is known to be healthy. One declarative table (LAB_SERVICES); `labTopology` turns it
 * into runnable specs for a base port and a state dir. Every client edge goes through the proxy named after the
 * service it calls, from process start:
 *
 *   load ─▶ [api] ─▶ api ─▶ [orders-1|orders-2] ─▶ orders ─▶ [payments] ─▶ payments
 *                                                    ├─▶ [postgres-primary] ─▶ primary ══ WAL ══▶ replica
 *                                                    ├─▶ [postgres-replica] ─▶ replica
 *                                                    └─▶ [redis] ─▶ redis
 *                                      worker ─▶ [payments], [postgres-primary]
 */
import { fileURLToPath } from 'node:url';
import type { StatePaths } from './state-dir.ts';

/** How the supervisor knows a process is ready (and, for a job, done). */
export type HealthCheck =
  | { type: 'http'; url: string }
  | { type: 'postgres'; port: number; standby: boolean }
  | { type: 'redis'; port: number }
  | { type: 'exit' };

export type ServiceKind = 'postgres-primary' | 'postgres-replica' | 'redis' | 'node' | 'job';

/** One row of the lab table: data only. Ports are offsets from the base port. */
export interface ServiceRow {
  name: string;
  kind: ServiceKind;
  /** Offset of the port the process itself listens on (absent for a job). */
  port?: number;
  /** Offset of the fault proxy in front of it; absent when nothing calls it (worker, the setup job). */
  proxy?: number;
  /** These must be healthy (or, for jobs, done) before this one starts. */
  after: string[];
  /** Entry point under lab/ for node services and jobs. */
  entry?: string;
  /** What it calls (each through that service's proxy): becomes its environment. */
  calls?: string[];
  /** Path of the dependency control endpoint it serves (a dependency stub), if any: dependency faults act there. */
  control?: string;
}

/** Base port: 27000 clashes with nothing standard (MongoDB uses 27017, which no row lands on). */
export const DEFAULT_BASE_PORT = 27_000;
/** Offset of the controller's toxiproxy-compatible API (27474 by default). */
export const CONTROLLER_PORT_OFFSET = 474;

export const LAB_SERVICES: readonly ServiceRow[] = [
  { name: 'postgres-primary', kind: 'postgres-primary', port: 532, proxy: 432, after: [] },
  { name: 'redis', kind: 'redis', port: 479, proxy: 379, after: [] },
  { name: 'payments', kind: 'node', port: 183, proxy: 83, after: [], entry: 'lab/payments/main.ts', control: '/control' },
  { name: 'lab-setup', kind: 'job', after: ['postgres-primary'], entry: 'lab/setup/main.ts', calls: ['postgres-primary'] },
  { name: 'postgres-replica', kind: 'postgres-replica', port: 533, proxy: 433, after: ['postgres-primary'] },
  {
    name: 'orders-1',
    kind: 'node',
    port: 181,
    proxy: 81,
    after: ['lab-setup', 'postgres-replica', 'redis', 'payments'],
    entry: 'lab/orders/main.ts',
    calls: ['postgres-primary', 'postgres-replica', 'redis', 'payments'],
  },
  {
    name: 'orders-2',
    kind: 'node',
    port: 182,
    proxy: 82,
    after: ['lab-setup', 'postgres-replica', 'redis', 'payments'],
    entry: 'lab/orders/main.ts',
    calls: ['postgres-primary', 'postgres-replica', 'redis', 'payments'],
  },
  {
    name: 'worker',
    kind: 'node',
    port: 184,
    after: ['lab-setup', 'payments'],
    entry: 'lab/worker/main.ts',
    calls: ['postgres-primary', 'payments'],
  },
  { name: 'api', kind: 'node', port: 180, proxy: 80, after: ['orders-1', 'orders-2'], entry: 'lab/api/main.ts', calls: ['orders-1', 'orders-2'] },
];

/** A row resolved for one lab: absolute ports and paths. */
export interface ServiceSpec extends ServiceRow {
  /** Absolute port the process listens on. */
  listenPort?: number;
  /** Absolute port of its fault proxy. */
  proxyPort?: number;
  health: HealthCheck;
  /** Signal for a clean stop; postgres takes SIGINT (fast shutdown: it does not wait for clients). */
  stopSignal: NodeJS.Signals;
  /** How long a clean stop may take before the whole process group gets SIGKILL. */
  graceMs: number;
  /** Restart after an unexpected exit (jobs never restart). */
  restart: boolean;
  /** Environment for node services and jobs: where each dependency's proxy is. */
  env: Record<string, string>;
}

export interface LabSettings {
  basePort: number;
  paths: StatePaths;
  secret: string;
  /** The lab's mitigations block (a preset name or JSON), passed to every node service as LAB_MITIGATIONS. */
  mitigations?: string;
}

/** Root of the checkout (lab entry points are resolved against it). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Absolute port of the controller API for a base port. */
export function controllerPort(basePort: number): number {
  return basePort + CONTROLLER_PORT_OFFSET;
}

/** The lab's specs in table order (a valid start order); throws on a bad table (unknown or later dependency). */
export function labTopology(settings: LabSettings): ServiceSpec[] {
  const { basePort } = settings;
  const byName = new Map(LAB_SERVICES.map((r) => [r.name, r]));
  const seen = new Set<string>();
  const abs = (offset: number | undefined): number | undefined => (offset === undefined ? undefined : basePort + offset);
  return LAB_SERVICES.map((row) => {
    for (const dep of row.after) {
      if (!seen.has(dep)) throw new Error(`lab table: ${row.name} starts after ${dep}, which is not listed before it`);
    }
    seen.add(row.name);
    const listenPort = abs(row.port);
    const env: Record<string, string> = {
      LAB_SERVICE: row.name,
      LAB_HOST: '127.0.0.1',
      LAB_JWT_SECRET: settings.secret,
    };
    if (listenPort !== undefined) env.LAB_PORT = String(listenPort);
    if (settings.mitigations !== undefined && row.kind === 'node') env.LAB_MITIGATIONS = settings.mitigations;
    for (const dep of row.calls ?? []) {
      const target = byName.get(dep);
      const proxyPort = abs(target?.proxy);
      if (target === undefined || proxyPort === undefined) throw new Error(`lab table: ${row.name} calls ${dep}, which has no proxy`);
      env[envNameFor(dep)] = urlFor(target.kind, proxyPort);
    }
    const health: HealthCheck =
      row.kind === 'postgres-primary' || row.kind === 'postgres-replica'
        ? { type: 'postgres', port: listenPort!, standby: row.kind === 'postgres-replica' }
        : row.kind === 'redis'
          ? { type: 'redis', port: listenPort! }
          : row.kind === 'job'
            ? { type: 'exit' }
            : { type: 'http', url: `http://127.0.0.1:${listenPort}/readyz` };
    const isPg = row.kind.startsWith('postgres');
    return {
      ...row,
      listenPort,
      proxyPort: abs(row.proxy),
      health,
      stopSignal: isPg ? 'SIGINT' : 'SIGTERM',
      graceMs: isPg ? 10_000 : 5_000,
      restart: row.kind !== 'job',
      env,
    } satisfies ServiceSpec;
  });
}

/** `postgres-primary` → `LAB_POSTGRES_PRIMARY_URL`. */
export function envNameFor(service: string): string {
  return `LAB_${service.toUpperCase().replace(/-/g, '_')}_URL`;
}

function urlFor(kind: ServiceKind, port: number): string {
  if (kind.startsWith('postgres')) return `postgres://lab@127.0.0.1:${port}/lab`;
  if (kind === 'redis') return `redis://127.0.0.1:${port}`;
  return `http://127.0.0.1:${port}`;
}
