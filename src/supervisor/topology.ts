/**
 * From a System (src/system) to runnable process specs: which processes, on which ports, behind which fault
 * proxy, after what, how each is known to be healthy, and each one's environment with every ${…} filled in.
 * Nothing here knows any particular system; the built-in lab is one system file (lab/faultline.yaml).
 */
import { fileURLToPath } from 'node:url';
import { FaultlineError } from '../core/errors.ts';
import { expand, loadSystem, systemPath, type Instance, type System } from '../system/system.ts';
import type { StatePaths } from './state-dir.ts';

/** How the supervisor knows a process is ready (and, for a job, done). */
export type HealthCheck =
  | { type: 'http'; url: string; expect: number }
  | { type: 'tcp'; port: number }
  | { type: 'postgres'; port: number; standby: boolean; user: string }
  | { type: 'redis'; port: number }
  | { type: 'exit' }
  | { type: 'none' };

/** What runs a process: PostgreSQL and Redis faultline knows how to run; a command or job is the user's argv. */
export type ServiceKind = 'postgres-primary' | 'postgres-replica' | 'redis' | 'command' | 'job' | 'attached';

/** One process of a system, resolved for one state dir and base port. */
export interface ServiceSpec {
  name: string;
  /** The declared service it is (an instance of a replicated one). */
  service: string;
  kind: ServiceKind;
  /** Absolute port the process listens on. */
  listenPort?: number;
  /** Absolute port of the fault proxy in front of it, when something calls it through one. */
  proxyPort?: number;
  /** Instances that must be healthy (or, for jobs, done) before this one starts. */
  after: string[];
  health: HealthCheck;
  /** Signal for a clean stop; postgres takes SIGINT (fast shutdown: it does not wait for clients). */
  stopSignal: NodeJS.Signals;
  /** How long a clean stop may take before the whole process group gets SIGKILL. */
  graceMs: number;
  /** Restart after an unexpected exit (jobs never restart). */
  restart: boolean;
  /** argv of a command or job, templates filled in ('node' runs as this very Node). */
  command?: string[];
  cwd: string;
  /** Environment, templates filled in (a value that expands to '' is left unset). */
  env: Record<string, string>;
  /** Started under libfaketime (clock faults). */
  clock: boolean;
  /** URL of the dependency control endpoint it serves. */
  control?: string;
  /** Started with the runtime agent loaded, which connects to this controller URL (src/agent). */
  agent?: { controller: string };
  /** Where its metrics are: a URL. */
  metricsUrl?: string;
  /** PostgreSQL settings, for the postgres kinds. */
  pg?: { user: string; database: string; primaryPort?: number; durable: boolean; volumeMb?: number };
  /** Attached services: how to find the process. */
  pidFile?: string;
}

export interface TopologySettings {
  paths: StatePaths;
  secret: string;
  /** The mitigations `up` was given, for ${mitigations} (a preset name or JSON). */
  mitigations?: string;
}

/** Root of this checkout/package (the built-in lab's file and entry points resolve against it). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The built-in lab: what `faultline up` runs when no ./faultline.yaml is present. */
export const LAB_SYSTEM_FILE = fileURLToPath(new URL('../../lab/faultline.yaml', import.meta.url));

/** The built-in lab as a System. */
export function labSystem(basePort?: number): System {
  return loadSystem(LAB_SYSTEM_FILE, basePort === undefined ? {} : { basePort });
}

function kindOf(inst: Instance): ServiceKind {
  const d = inst.decl;
  if (d.type === 'postgres') return d.replica_of === undefined ? 'postgres-primary' : 'postgres-replica';
  return d.type;
}

/** Instances of the services in `after` (a replicated service stands for all its replicas). */
function afterInstances(system: System, after: string[]): string[] {
  return after.flatMap((a) => system.groups.get(a) ?? [a]);
}

/**
 * The system's processes in a valid start order (declaration order; `after` is checked by the loader).
 * @example systemTopology(loadSystem('faultline.yaml'), { paths: statePaths('.faultline'), secret })
 */
export function systemTopology(system: System, settings: TopologySettings): ServiceSpec[] {
  const ctx = { stateDir: settings.paths.root, secret: settings.secret, mitigations: settings.mitigations ?? '', env: process.env };
  const fill = (inst: Instance, text: string): string => expand(system, inst, text, ctx);
  return system.instances.map((inst) => {
    const d = inst.decl;
    const kind = kindOf(inst);
    const proxy = system.proxies.find((p) => p.instance === inst.name);
    const env: Record<string, string> = {};
    if ('env' in d) {
      for (const [k, v] of Object.entries(d.env)) {
        const value = fill(inst, v);
        if (value !== '') env[k] = value;
      }
    }
    const isPg = d.type === 'postgres';
    let health: HealthCheck;
    if (d.type === 'postgres') health = { type: 'postgres', port: inst.port!, standby: d.replica_of !== undefined, user: d.user };
    else if (d.type === 'redis') health = { type: 'redis', port: inst.port! };
    else if (d.type === 'job') health = { type: 'exit' };
    else if (d.health && 'http' in d.health) health = { type: 'http', url: `http://127.0.0.1:${inst.port}${d.health.http}`, expect: d.health.expect_status };
    else if (inst.port !== undefined) health = { type: 'tcp', port: inst.port };
    else health = { type: 'none' };
    let pg: ServiceSpec['pg'];
    if (d.type === 'postgres') {
      const primary = d.replica_of === undefined ? undefined : system.instances.find((i) => i.name === d.replica_of);
      pg = { user: d.user, database: d.database ?? d.user, primaryPort: primary?.port, durable: d.durable, ...(d.volume ? { volumeMb: d.volume.size_mb } : {}) };
    }
    const metrics = 'metrics' in d ? d.metrics : undefined;
    return {
      name: inst.name,
      service: inst.service,
      kind,
      ...(inst.port !== undefined ? { listenPort: inst.port } : {}),
      ...(proxy ? { proxyPort: proxy.listen } : {}),
      after: afterInstances(system, 'after' in d ? d.after : []),
      health,
      stopSignal: isPg ? 'SIGINT' : d.type === 'command' ? d.stop_signal : 'SIGTERM',
      graceMs: isPg ? 10_000 : d.type === 'command' ? d.stop_grace_ms : 5_000,
      restart: d.type === 'command' ? d.restart !== 'never' : d.type !== 'job' && d.type !== 'attached',
      ...('command' in d ? { command: d.command.map((c) => fill(inst, c)) } : {}),
      cwd: 'cwd' in d && d.cwd !== undefined ? systemPath(system, d.cwd) : system.dir,
      env,
      clock: 'clock' in d ? d.clock : false,
      ...('control' in d && d.control !== undefined && inst.port !== undefined ? { control: `http://127.0.0.1:${inst.port}${d.control}` } : {}),
      ...(d.type === 'command' && d.agent ? { agent: { controller: `http://127.0.0.1:${system.controllerPort}` } } : {}),
      ...(metrics !== undefined && inst.port !== undefined ? { metricsUrl: metrics.startsWith('/') ? `http://127.0.0.1:${inst.port}${metrics}` : metrics } : {}),
      ...(pg ? { pg } : {}),
      ...(d.type === 'attached' && d.pid_file !== undefined ? { pidFile: systemPath(system, d.pid_file) } : {}),
    } satisfies ServiceSpec;
  });
}

/** The lab's specs (the built-in system) for a base port and state dir. */
export function labTopology(settings: TopologySettings & { basePort: number }): ServiceSpec[] {
  return systemTopology(labSystem(settings.basePort), settings);
}

// ---------------------------------------------------------------------------------------------------------------
// The built-in lab's layout as offsets, read from lab/faultline.yaml when this module loads: for code that still
// addresses the lab by port offset (the experiment runner, the demo, tests and benches) until it works from a
// System too. The watchdog's bundle must not import this module (it reads a file relative to the sources).

/** One lab process as offsets from the base port. */
export interface ServiceRow {
  name: string;
  kind: 'postgres-primary' | 'postgres-replica' | 'redis' | 'node' | 'job';
  /** Offset of the port the process itself listens on (absent for a job). */
  port?: number;
  /** Offset of the fault proxy in front of it; absent when nothing calls it. */
  proxy?: number;
  after: string[];
}

const LAB_AT_ZERO = loadSystem(LAB_SYSTEM_FILE, { basePort: 0 });

/** Base port of the built-in lab (its file's base_port). */
export const DEFAULT_BASE_PORT = LAB_AT_ZERO.decl.base_port;
/** Offset of the controller's API from the base port, in the built-in lab. */
export const CONTROLLER_PORT_OFFSET = LAB_AT_ZERO.controllerPort;

/** The built-in lab's processes, as offsets. */
export const LAB_SERVICES: readonly ServiceRow[] = LAB_AT_ZERO.instances.map((inst) => {
  const kind = kindOf(inst);
  if (kind === 'attached') throw new FaultlineError('INTERNAL', 'the built-in lab has no attached service');
  const proxy = LAB_AT_ZERO.proxies.find((p) => p.instance === inst.name);
  return {
    name: inst.name,
    kind: kind === 'command' ? 'node' : kind,
    ...(inst.port !== undefined ? { port: inst.port } : {}),
    ...(proxy ? { proxy: proxy.listen } : {}),
    after: afterInstances(LAB_AT_ZERO, 'after' in inst.decl ? inst.decl.after : []),
  };
});

/** Absolute port of the controller API for a base port (the built-in lab's layout). */
export function controllerPort(basePort: number): number {
  return basePort + CONTROLLER_PORT_OFFSET;
}
