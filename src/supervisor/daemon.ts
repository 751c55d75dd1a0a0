/**
 * The controller daemon `faultline up` runs: hosts the toxiproxy-compatible API with one fault proxy per
 * service (named after it), starts the lab through the process manager, keeps status.json current, and on
 * SIGINT/SIGTERM stops everything in reverse order. `startDetached` runs the same daemon in the background and
 * returns once the lab is healthy (or reports why it is not).
 *
 *   up ─▶ clean leftovers ─▶ proxies (all, before any process) ─▶ processes in dependency order ─▶ running
 *   SIGTERM ─▶ processes in reverse order ─▶ proxies closed ─▶ pid files gone
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from '../core/clock.ts';
import { FaultlineError } from '../core/errors.ts';
import { createChaosApi } from '../controller/api.ts';
import { unjournaledToxics } from '../controller/unjournaled.ts';
import { Controller } from '../controller/controller.ts';
import { chaosToken } from '../controller/token.ts';
import { attachDashboard, createExperimentBoard, slosFromEndpoints, type AttachedDashboard } from '../dashboard/index.ts';
import type { Target } from '../faults/injector.ts';
import { startProxyServer, type MountedHandler, type ProxyServer } from '../proxy/server.ts';
import { cleanupLeftovers, controllerRecord, readStatus, type LabStatusFile } from './control.ts';
import { kernelTargetFields, mountPgVolume, unmountPgVolume } from './fault-surfaces.ts';
import { missingPrerequisites } from './launch.ts';
import { ProcessManager } from './process-manager.ts';
import { serviceMetrics } from './service-metrics.ts';
import { ensureStateDir, labSecret, pidFile, removePidRecord, statePaths, writePidRecord, type StatePaths } from './state-dir.ts';
import { processStartTicks } from '../core/process.ts';
import { readJson, writeJson } from '../core/json-file.ts';
import { kernelScope } from '../core/scope.ts';
import { loadSystem, resolveSystem, type System } from '../system/system.ts';
import { DEFAULT_BASE_PORT, LAB_SYSTEM_FILE, systemTopology, type ServiceSpec } from './topology.ts';
import { startHeartbeat, watchdogRecord } from './watchdog.ts';
import { ensureWatchdogBundle } from './watchdog-bundle.ts';
import { ensureAgentBundle } from '../agent/bundle.ts';
import { AGENT_HUB } from '../agent/hub.ts';
import { agentToken } from '../agent/token.ts';

export interface UpOptions {
  stateDir: string;
  /**
   * The system file to run. Default: the one this state dir ran last, else ./faultline.yaml when present, else
   * the built-in lab (lab/faultline.yaml).
   */
  system?: string;
  /** Base of every lab port; default: the one this state dir used last, else 27000. */
  basePort?: number;
  /** Mitigations for every lab service (preset name or JSON block; see lab/README.md); default: none. */
  mitigations?: string;
  /** Progress lines (default: stdout). */
  log?: (line: string) => void;
  /**
   * Take over the services a dead controller left running (alive and healthy) instead of stopping and
   * restarting them; what the watchdog asks for when it restarts the controller. Default false.
   */
  adopt?: boolean;
  /**
   * Start the dead-man watchdog (default true): a separate process that reverts every fault and restarts the
   * controller if this process dies. Off only for embedders that supervise the controller themselves.
   */
  watchdog?: boolean;
}

interface LabFile {
  base_port: number;
  created_at: string;
  /** The system file this state dir runs (absolute). */
  system_file?: string;
  /** The mitigations `up` was given, so a controller the watchdog restarts comes back with the same. */
  mitigations?: string;
}

/** The base port to use: explicit, else what this state dir used before, else the system file's. */
export function resolveBasePort(paths: StatePaths, explicit?: number, system?: System): number {
  return explicit ?? readJson<LabFile>(paths.labFile)?.base_port ?? system?.basePort ?? DEFAULT_BASE_PORT;
}

/** The system file to run: explicit, else the state dir's last, else ./faultline.yaml, else the built-in lab. */
export function resolveSystemFile(paths: StatePaths, explicit?: string): string {
  if (explicit !== undefined) return resolve(explicit);
  const last = readJson<LabFile>(paths.labFile)?.system_file;
  if (last !== undefined && existsSync(last)) return last;
  return existsSync('faultline.yaml') ? resolve('faultline.yaml') : LAB_SYSTEM_FILE;
}

/** A running controller in this process; `stop` brings everything down. */
export interface RunningLab {
  readonly status: () => LabStatusFile;
  readonly proxies: ProxyServer;
  /** Reverts every active fault (what a fatal error does before the process exits). */
  halt(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the lab in this process and resolves once every service is healthy.
 * @example const lab = await startLab({ stateDir: '.faultline' }); … await lab.stop();
 */
export async function startLab(options: UpOptions): Promise<RunningLab> {
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const paths = statePaths(options.stateDir);
  ensureStateDir(paths);
  // The whole system file is validated before anything is touched: every problem at once, exit 2.
  const systemFile = resolveSystemFile(paths, options.system);
  const declared = loadSystem(systemFile);
  const basePort = resolveBasePort(paths, options.basePort, declared);
  const system = basePort === declared.basePort ? declared : resolveSystem(declared.decl, systemFile, basePort);
  const specs = systemTopology(system, { paths, secret: labSecret(paths, true)!, mitigations: options.mitigations });
  const missing = missingPrerequisites(specs);
  if (missing.length > 0) {
    throw new FaultlineError('CAPABILITY_MISSING', `${system.name} needs: ${missing.join('; ')}`, { hint: 'run `bash scripts/setup.sh`' });
  }
  const running = controllerRecord(paths);
  if (running) throw new FaultlineError('LAB_ALREADY_RUNNING', `a lab controller (pid ${running.pid}) already runs on ${paths.root}`);
  // Faults a dead controller left are reverted first, from the journal alone (each handle names what to undo),
  // so they end within moments of `up`; the volume is mounted before, as a fill file left behind is on it.
  const volumeMb = specs.find((s) => s.pg?.volumeMb !== undefined)?.pg?.volumeMb;
  if (volumeMb !== undefined) await mountPgVolume(paths, log, volumeMb);
  (await Controller.open({ stateDir: paths.root, targets: [] })).close();
  // A controller that was SIGKILLed leaves its children running: they hold the ports we are about to bind,
  // unless they are adopted (then only the proxies are new, and clients reconnect through them).
  if (!options.adopt) {
    const leftovers = await cleanupLeftovers(paths, log);
    if (leftovers > 0) log(`stopped ${leftovers} process(es) a previous controller left behind`);
  }

  const previous = readJson<LabFile>(paths.labFile);
  writeJson(paths.labFile, {
    base_port: basePort,
    created_at: previous?.created_at ?? new Date().toISOString(),
    system_file: systemFile,
    ...(options.mitigations !== undefined ? { mitigations: options.mitigations } : {}),
  } satisfies LabFile);
  writePidRecord(paths, {
    name: 'controller',
    pid: process.pid,
    pgid: 0, // never group-kill the controller: in the foreground its group is the user's shell job
    start_ticks: processStartTicks(process.pid),
    stop_signal: 'SIGTERM',
    command: process.argv.join(' '),
  });

  const t0 = Date.now();
  const controllerUrl = `http://127.0.0.1:${system.controllerPort}`;
  let phase: LabStatusFile['phase'] = 'starting';
  let error: string | null = null;
  let readyMs: number | null = null;
  let manager: ProcessManager | undefined;
  const status = (): LabStatusFile => ({
    phase,
    controller_pid: process.pid,
    controller_url: controllerUrl,
    base_port: basePort,
    state_dir: paths.root,
    started_at: new Date(t0).toISOString(),
    ready_ms: readyMs,
    error,
    services: manager?.statuses() ?? [],
  });
  const writeStatus = (): void => writeJson(paths.statusFile, status());
  manager = new ProcessManager(specs, { paths, basePort, log, onChange: writeStatus, adopt: options.adopt });
  writeStatus();

  // The dead-man switch: a heartbeat the watchdog reads, and a watchdog kept alive while the lab runs.
  const stopHeartbeat = startHeartbeat(paths);
  let watchdogMonitor: NodeJS.Timeout | undefined;

  let proxies: ProxyServer | undefined;
  let controller: Controller | undefined;
  let dashboard: AttachedDashboard | undefined;
  const stop = async (): Promise<void> => {
    if (phase === 'stopping' || phase === 'stopped') return;
    phase = 'stopping';
    writeStatus();
    clearInterval(watchdogMonitor);
    await dashboard?.stop();
    // Faults end before the processes do, so nothing outlives the lab (and the journal says so).
    await controller?.halt();
    AGENT_HUB.close();
    controller?.close();
    await manager.stopAll();
    // `down` leaves no mount behind; the image keeps the data for the next `up`.
    await unmountPgVolume(paths, log).catch((err: Error) => log(`cannot unmount the postgres volume: ${err.message}`));
    await proxies?.close();
    phase = error ? 'failed' : 'stopped';
    writeStatus();
    stopHeartbeat();
    // Last: the watchdog reads a missing record with phase stopped as an orderly stop, and exits.
    removePidRecord(paths, 'controller');
  };

  try {
    if (options.watchdog !== false) {
      await ensureWatchdog(paths, log);
      watchdogMonitor = setInterval(() => {
        if (phase !== 'running' || watchdogRecord(paths) !== undefined) return;
        log('the watchdog is gone; starting a new one');
        void ensureWatchdog(paths, log).catch((err: Error) => log(`cannot start the watchdog: ${err.message}`));
      }, 1_000);
      watchdogMonitor.unref();
    }
    // Every route on the controller port checks the Host header (DNS rebinding), inside the error boundary.
    proxies = await startProxyServer({ host: '127.0.0.1', port: system.controllerPort, processMetrics: true, allowedHosts: LOOPBACK_HOSTS, log, caDir: `${paths.root}/ca` });
    // Every proxy exists before any process starts, so each client connects through its proxy from the start.
    for (const edge of system.proxies) {
      await proxies.createProxy({ name: edge.name, listen: `127.0.0.1:${edge.listen}`, upstream: edge.upstream });
    }
    // Opening the controller reverts whatever faults a dead predecessor left, before any service starts.
    controller = await Controller.open({ stateDir: paths.root, targets: systemTargets(system, specs, proxies.url, paths) });
    const board = createExperimentBoard(system.experimentsDir);
    proxies.mount(createChaosApi(controller, { token: chaosToken(paths.root), experiments: board, unjournaled: unjournaledToxics(proxies.registry) }));
    // Runtime agents connect out to this port; the process each runs in is a target from its registration on.
    if (specs.some((s) => s.agent !== undefined)) await ensureAgentBundle(log);
    const open = controller;
    AGENT_HUB.configure({
      token: agentToken(paths.root),
      isActive: (rule) => open.list().some((r) => `faultline-${r.id}` === rule && (r.phase === 'injected' || r.phase === 'pending')),
      onRegister: (service) => open.addTarget({ name: service, agent: { service } }),
    });
    proxies.mount(AGENT_HUB.handler());
    proxies.addMetrics(controller.metrics);
    const managed = manager;
    proxies.addMetrics(serviceMetrics(() => managed.statuses()));
    if (process.env.FAULTLINE_DEBUG_CRASH === '1') proxies.mount(debugCrashRoute(log));
    dashboard = attachDashboard({
      proxies,
      controller,
      board,
      targets: specs.filter((s) => s.metricsUrl !== undefined).map((s) => ({ service: s.name, url: s.metricsUrl! })),
      edge: entryInstance(system) ?? specs.find((s) => s.metricsUrl !== undefined)?.name ?? '',
      slos: slosFromEndpoints(system.decl.entry?.endpoints ?? {}),
      ...(system.decl.server_metrics ? { metrics: system.decl.server_metrics } : {}),
    });
    await manager.startAll();
    dashboard.start();
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    await stop();
    throw err instanceof FaultlineError
      ? err
      : new FaultlineError('LAB_START_FAILED', error, { hint: `see the logs under ${paths.logDir}` });
  }
  readyMs = Date.now() - t0;
  phase = 'running';
  writeStatus();
  const entry = system.decl.entry ? system.proxies.find((p) => p.name === system.decl.entry!.via) : undefined;
  log(`${system.name} up in ${(readyMs / 1000).toFixed(1)} s — ${entry ? `${entry.name} http://127.0.0.1:${entry.listen}, ` : ''}controller ${controllerUrl}, dashboard ${dashboard?.url} (\`faultline dashboard\` prints a link that can inject)`);
  return {
    status,
    proxies: proxies!,
    halt: async () => {
      await controller?.halt();
    },
    stop,
  };
}

/** The names the controller answers to: loopback only (see LOOPBACK_HOSTS in the proxy server's Host check). */
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * Test hook, mounted only with FAULTLINE_DEBUG_CRASH=1: `POST /__debug/crash` throws outside any request's
 * error boundary, the way a bug in a timer or an event handler would, so tests can prove that a crash of the
 * controller reverts its faults (the fatal handler) and that the watchdog brings the lab back.
 */
function debugCrashRoute(log: (line: string) => void): MountedHandler {
  return async (req, res) => {
    if (req.url !== '/__debug/crash' || req.method !== 'POST') return false;
    res.writeHead(202, { 'content-type': 'application/json' }).end('{"crashing":true}');
    log('FAULTLINE_DEBUG_CRASH: crashing on request');
    setImmediate(() => {
      throw new Error('deliberate crash (FAULTLINE_DEBUG_CRASH)');
    });
    return true;
  };
}

/** Starts the watchdog for this state dir unless a live one watches it already. */
async function ensureWatchdog(paths: StatePaths, log: (line: string) => void): Promise<void> {
  if (watchdogRecord(paths) !== undefined) return;
  const bundle = await ensureWatchdogBundle(log);
  const fd = openSync(join(paths.logDir, 'watchdog.log'), 'a');
  try {
    const child = spawn(process.execPath, [bundle, '--state-dir', paths.root, '--bin', BIN], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    // Wait until it has written its record, so a crash right after `up` is already covered.
    for (let i = 0; i < 100 && watchdogRecord(paths) === undefined; i++) await sleep(20);
    log(`watchdog pid ${child.pid} watches the controller (log: ${join(paths.logDir, 'watchdog.log')})`);
  } finally {
    closeSync(fd);
  }
}

/**
 * The system's services as fault targets: each behind the proxy that fronts it, with its port, pid record, HTTP
 * address, control endpoint, volume and clock file where it has them; a replicated service is also a group
 * target named after it (so `rolling_restart orders` acts on every instance in turn).
 */
export function systemTargets(system: System, specs: readonly ServiceSpec[], proxyApi: string, paths: StatePaths): Target[] {
  const scope = kernelScope(paths.root);
  const services: Target[] = specs
    .filter((s) => s.kind !== 'job')
    .map((s) => {
      const proxy = system.proxies.find((p) => p.instance === s.name);
      return {
        name: s.name,
        pidFile: s.pidFile ?? pidFile(paths, s.name),
        ...(s.listenPort !== undefined ? { port: s.listenPort } : {}),
        ...(proxy ? { proxy: { api: proxyApi, name: proxy.name } } : {}),
        ...(s.kind === 'command' && s.listenPort !== undefined ? { http: `http://127.0.0.1:${s.listenPort}` } : {}),
        ...(s.control !== undefined ? { control: s.control } : {}),
        ...kernelTargetFields(s, paths),
        ...(s.agent !== undefined ? { agent: { service: s.name } } : {}),
        scope,
      };
    });
  for (const group of system.groups.keys()) {
    // The group's "pid file" names no process: process faults read its members (<group>-<n>) beside it.
    if (!services.some((t) => t.name === group)) services.push({ name: group, pidFile: pidFile(paths, group) });
  }
  // Dependencies that forward to something outside the system (a third-party stub on loopback): targets too.
  for (const edge of system.proxies) {
    if (edge.instance === undefined && !services.some((t) => t.name === edge.name)) services.push({ name: edge.name, proxy: { api: proxyApi, name: edge.name } });
  }
  return services;
}

/** The instance users reach first: the one behind the entry's proxy (or the entry service itself). */
export function entryInstance(system: System): string | undefined {
  const via = system.decl.entry?.via;
  if (via === undefined) return undefined;
  return system.proxies.find((p) => p.name === via)?.instance ?? system.instances.find((i) => i.service === via)?.name;
}

/** How long a fatal error may spend reverting faults before the process exits anyway (the watchdog follows). */
const FATAL_HALT_MS = 1_500;

/**
 * Runs the controller in the foreground until SIGINT/SIGTERM, then stops the lab. A fatal error (an uncaught
 * exception or unhandled rejection anywhere in the process) reverts every active fault before the process exits
 * with 70; the watchdog then restarts the controller.
 */
export async function runForeground(options: UpOptions): Promise<void> {
  const log = options.log ?? console.log;
  let stopRequested: (() => void) | undefined;
  const requested = new Promise<void>((resolve) => (stopRequested = resolve));
  const onSignal = (): void => stopRequested?.();
  let running: RunningLab | undefined;
  let dying = false;
  const onFatal = (err: unknown): void => {
    if (dying) return;
    dying = true;
    log(`fatal: ${(err as Error)?.stack ?? String(err)}`);
    log('reverting every active fault before exiting');
    const halted = running ? running.halt().catch((e: Error) => log(`halt failed: ${e.message}`)) : Promise.resolve();
    void Promise.race([halted, sleep(FATAL_HALT_MS)]).finally(() => process.exit(70));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  try {
    const lab = await startLabInterruptibly(options, requested);
    if (lab === undefined) return;
    running = lab;
    if (process.env.FAULTLINE_RESTARTED_BY === 'watchdog') log('restarted by the watchdog after the previous controller died');
    await requested;
    log('stopping the lab');
    await lab.stop();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('uncaughtException', onFatal);
    process.off('unhandledRejection', onFatal);
  }
}

/** A signal during start-up must still stop whatever had started. */
async function startLabInterruptibly(options: UpOptions, requested: Promise<void>): Promise<RunningLab | undefined> {
  const starting = startLab(options);
  const first = await Promise.race([starting.then(() => 'up' as const), requested.then(() => 'signal' as const)]);
  if (first === 'up') return starting;
  // Interrupted: let the start finish or fail, then stop it.
  const lab = await starting.catch(() => undefined);
  await lab?.stop();
  return undefined;
}

const BIN = fileURLToPath(new URL('../../bin/faultline', import.meta.url));

/**
 * Starts the controller as a background process (logs in <state>/logs/controller.log) and resolves with its
 * status once the lab is healthy; throws LAB_START_FAILED (with the log tail) if it fails or exits first.
 */
export async function startDetached(options: UpOptions & { timeoutMs?: number }): Promise<LabStatusFile> {
  const paths = statePaths(options.stateDir);
  ensureStateDir(paths);
  const running = controllerRecord(paths);
  if (running) throw new FaultlineError('LAB_ALREADY_RUNNING', `a lab controller (pid ${running.pid}) already runs on ${paths.root}`);
  const logFile = join(paths.logDir, 'controller.log');
  const fd = openSync(logFile, 'a');
  const args = [BIN, 'up', '--state-dir', paths.root];
  if (options.basePort !== undefined) args.push('--base-port', String(options.basePort));
  if (options.mitigations !== undefined) args.push('--mitigations', options.mitigations);
  if (options.system !== undefined) args.push('--system', resolve(options.system));
  if (options.adopt) args.push('--adopt');
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', fd, fd], env: process.env });
  closeSync(fd);
  child.unref();
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `${code ?? signal}`));
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  while (Date.now() < deadline) {
    const status = readStatus(paths);
    if (status !== undefined && status.controller_pid === child.pid) {
      if (status.phase === 'running') return status;
      if (status.phase === 'failed') break;
    }
    if (exited !== undefined) break;
    await sleep(100);
  }
  if (exited === undefined && child.pid !== undefined) {
    // Timed out: stop it the ordinary way (it cleans its children up).
    try {
      process.kill(child.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n  ');
  throw new FaultlineError('LAB_START_FAILED', `the lab controller did not come up${exited ? ` (exited ${exited})` : ''}:\n  ${tail}`, {
    hint: `full log: ${logFile}`,
  });
}
