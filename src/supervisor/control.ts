/**
 * What `down` and `status` do from outside the daemon, working only from the state dir: ask a live controller
 * to stop (SIGTERM), and — whether it was alive or SIGKILLed long ago — stop every process a pid file still
 * names (stop signal, grace, SIGKILL to the process group), in reverse start order.
 */
import { sleep } from '../core/clock.ts';
import type { ServiceStatus } from './process-manager.ts';
import { readPidRecords, removePidRecord, statePaths, type StatePaths } from './state-dir.ts';
import { isGroupAlive, isRecordAlive, type PidRecord } from '../core/process.ts';
import { readJson } from '../core/json-file.ts';
import { Controller } from '../controller/controller.ts';
import { unmountPgVolume } from './fault-surfaces.ts';
import { loadSystem } from '../system/system.ts';

/** status.json: the controller's latest view, rewritten on every change. */
export interface LabStatusFile {
  phase: 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';
  controller_pid: number;
  controller_url: string;
  base_port: number;
  state_dir: string;
  started_at: string;
  ready_ms: number | null;
  error: string | null;
  services: ServiceStatus[];
}

export function readStatus(paths: StatePaths): LabStatusFile | undefined {
  return readJson<LabStatusFile>(paths.statusFile);
}

/** The live controller's pid record, or undefined when none runs on this state dir. */
export function controllerRecord(paths: StatePaths): PidRecord | undefined {
  const record = readPidRecords(paths).find((r) => r.name === 'controller');
  return record && isRecordAlive(record) ? record : undefined;
}

/**
 * Reverse start order of the system this state dir ran (lab.json names its file): the entry first, databases
 * last; names the file does not list (or no readable file) go first.
 */
function stopOrder(records: PidRecord[], paths: StatePaths): PidRecord[] {
  let order: string[] = [];
  const file = readJson<{ system_file?: string }>(paths.labFile)?.system_file;
  try {
    if (file !== undefined) order = loadSystem(file).instances.map((i) => i.name);
  } catch {
    /* the file changed or is gone: stop in record order */
  }
  const rank = (name: string): number => {
    const i = order.indexOf(name);
    return i === -1 ? Number.MAX_SAFE_INTEGER : i;
  };
  return [...records].sort((a, b) => rank(b.name) - rank(a.name));
}

const GRACE_MS = 10_000;

/** Stops one recorded process: its stop signal, then SIGKILL to its process group after the grace period. */
async function stopRecord(record: PidRecord, graceMs: number): Promise<void> {
  if (isRecordAlive(record)) {
    signal(record.pid, record.stop_signal);
    const deadline = Date.now() + graceMs;
    while (isRecordAlive(record) && Date.now() < deadline) await sleep(50);
  }
  if (record.pgid > 0 && isGroupAlive(record.pgid)) {
    signal(-record.pgid, 'SIGKILL');
    const deadline = Date.now() + 2_000;
    while (isGroupAlive(record.pgid) && Date.now() < deadline) await sleep(20);
  }
}

/** The processes of faultline itself in a state dir's pid records, as opposed to the services it runs. */
const OWN_PROCESSES = new Set(['controller', 'watchdog']);

/** Stops every service a pid file names (not the controller, not the watchdog); returns how many were still alive. */
export async function cleanupLeftovers(paths: StatePaths, log: (line: string) => void, graceMs = GRACE_MS): Promise<number> {
  let alive = 0;
  for (const record of stopOrder(readPidRecords(paths).filter((r) => !OWN_PROCESSES.has(r.name)), paths)) {
    if (record.attached) {
      // Not ours to stop: only forget it.
      removePidRecord(paths, record.name);
      continue;
    }
    const wasAlive = isRecordAlive(record);
    const t0 = Date.now();
    await stopRecord(record, graceMs);
    if (wasAlive) {
      alive += 1;
      log(`stopped ${record.name} (pid ${record.pid}) in ${Date.now() - t0} ms`);
    }
    removePidRecord(paths, record.name);
  }
  return alive;
}

export interface DownResult {
  controller: 'stopped' | 'not running';
  /**
   * The dead-man watchdog, stopped first. A watchdog that was restarting a dead controller stops that controller
   * (and so the lab) itself before it exits, so `controller` may then say 'not running' of a lab that was.
   */
  watchdog: 'stopped' | 'not running';
  /** Processes stopped directly from pid files (a dead controller's leftovers). */
  leftovers: number;
}

/**
 * `faultline down`: SIGTERM to a live controller and wait for its orderly stop; then stop anything a pid file
 * still names (the controller was SIGKILLed, or did not finish). Safe to run when nothing runs.
 */
export async function stopLab(stateDir: string, log: (line: string) => void = () => {}): Promise<DownResult> {
  const paths = statePaths(stateDir);
  // The watchdog first: `down` is an order to stop, and a watchdog that saw the controller go would restart it.
  // It finishes whatever revert it is doing before it exits.
  const watchdog = readPidRecords(paths).find((r) => r.name === 'watchdog');
  const watched = watchdog !== undefined && isRecordAlive(watchdog);
  if (watchdog && watched) {
    signal(watchdog.pid, 'SIGTERM');
    // It may be stopping a controller it had just started (that one stops what it started first).
    const deadline = Date.now() + 45_000;
    while (isRecordAlive(watchdog) && Date.now() < deadline) await sleep(20);
    if (isRecordAlive(watchdog)) signal(watchdog.pid, 'SIGKILL');
  }
  removePidRecord(paths, 'watchdog');
  const controller = controllerRecord(paths);
  if (controller) {
    log(`stopping the lab controller (pid ${controller.pid})`);
    signal(controller.pid, 'SIGTERM');
    // Its own stop takes each service's grace period at worst; give it that, then take over.
    const deadline = Date.now() + 30_000;
    while (isRecordAlive(controller) && Date.now() < deadline) await sleep(50);
    if (isRecordAlive(controller)) {
      log(`controller still alive after 30 s; SIGKILL`);
      signal(controller.pid, 'SIGKILL');
    }
  }
  removePidRecord(paths, 'controller');
  // A controller that died cannot have reverted its faults: the journal says which may still be in effect.
  // Reverted first, so they end within moments of `down` rather than after every process has stopped.
  const faults = await Controller.open({ stateDir: paths.root, targets: [] });
  faults.close();
  const leftovers = await cleanupLeftovers(paths, log);
  // Only now: the faults were reverted on the still-mounted volume (a fill file must not hide inside the image).
  await unmountPgVolume(paths, log);
  return { controller: controller ? 'stopped' : 'not running', watchdog: watched ? 'stopped' : 'not running', leftovers };
}

/** What `faultline status` reports: the controller's view, corrected by what is actually alive. */
export interface LabStatus {
  running: boolean;
  phase: LabStatusFile['phase'] | 'not running' | 'orphaned';
  controller_pid: number | null;
  controller_url: string | null;
  base_port: number | null;
  state_dir: string;
  ready_ms: number | null;
  error: string | null;
  /** The dead-man watchdog's pid while one watches this lab. */
  watchdog_pid: number | null;
  services: ServiceStatus[];
}

export function labStatus(stateDir: string): LabStatus {
  const paths = statePaths(stateDir);
  const file = readStatus(paths);
  const controller = controllerRecord(paths);
  const records = readPidRecords(paths);
  const live = new Map(records.filter((r) => !OWN_PROCESSES.has(r.name) && isRecordAlive(r)).map((r) => [r.name, r]));
  const watchdog = records.find((r) => r.name === 'watchdog' && isRecordAlive(r));
  const services = (file?.services ?? []).map((s) => {
    const record = live.get(s.name);
    if (controller || s.state === 'done') return s;
    // No controller: nothing is supervised any more; report what is alive from the pid files.
    return { ...s, state: record ? ('orphaned' as const) : ('stopped' as const), pid: record?.pid ?? null };
  });
  const phase: LabStatus['phase'] = controller ? (file?.phase ?? 'starting') : live.size > 0 ? 'orphaned' : 'not running';
  return {
    running: controller !== undefined && phase === 'running',
    phase,
    controller_pid: controller?.pid ?? null,
    controller_url: controller ? (file?.controller_url ?? null) : null,
    base_port: file?.base_port ?? null,
    state_dir: paths.root,
    ready_ms: file?.ready_ms ?? null,
    error: file?.error ?? null,
    watchdog_pid: watchdog?.pid ?? null,
    services,
  };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone already */
  }
}
