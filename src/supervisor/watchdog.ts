/**
 * The dead-man switch: a small process of its own (own session and process group, no shared stdio, started by
 * `faultline up`) that watches the controller and, the moment it is gone, reverts every fault the journal says
 * may be in effect, verifies each revert, and brings the controller back so the lab serves again. It shares no
 * fate with the controller: it runs from a prebuilt bundle (`dist/watchdog.mjs`, no TypeScript compiled at run
 * time), it is not the controller's child once restarted, and if it dies the controller starts a new one.
 *
 *   controller ──pid record + start ticks, heartbeat file──▶ watchdog (polls every 100 ms)
 *   death ─▶ journal: revert + verify every open fault (reverted_by: watchdog) ─▶ event stream
 *        ─▶ phase was running? `faultline up` again (proxies on the same ports) : finish the stop (`down`'s cleanup)
 *
 * A controller whose heartbeat is older than HUNG_MS while its pid lives is hung (its TTL timers cannot fire):
 * it is SIGKILLed and treated as dead. More deaths than restartBudget() allows within its window is a crash
 * loop: the watchdog reverts, stops the lab's processes and gives up, saying so in the event stream.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, openSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../core/clock.ts';
import { Controller } from '../controller/controller.ts';
import { readJournal } from '../controller/journal.ts';
import { cleanupLeftovers, readStatus } from './control.ts';
import { unmountPgVolume } from './fault-surfaces.ts';
import { readPidRecords, removePidRecord, statePaths, writePidRecord, type StatePaths } from './state-dir.ts';
import { isRecordAlive, processStartTicks, type PidRecord } from '../core/process.ts';
import { readJson } from '../core/json-file.ts';

export const WATCHDOG = 'watchdog';
const POLL_MS = 100;
const HEARTBEAT_MS = 500;
const HUNG_MS = 15_000;
/**
 * The crash-loop guard: more than `restarts` deaths within `window_s` and the watchdog gives up. Default 3 in
 * 60 s; FAULTLINE_WATCHDOG_RESTARTS=<restarts>/<window_s> overrides it (a bench that kills on purpose).
 */
export function restartBudget(env: NodeJS.ProcessEnv = process.env): { restarts: number; windowMs: number } {
  const m = /^(\d+)\/(\d+)$/.exec(env.FAULTLINE_WATCHDOG_RESTARTS ?? '');
  return m ? { restarts: Number(m[1]), windowMs: Number(m[2]) * 1000 } : { restarts: 3, windowMs: 60_000 };
}
const SERVE_TIMEOUT_MS = 120_000;

/** The file the controller touches every HEARTBEAT_MS while its event loop runs. */
export function heartbeatFile(paths: StatePaths): string {
  return join(paths.root, 'heartbeat');
}

/**
 * Starts the controller's side of the switch: a heartbeat every HEARTBEAT_MS. Returns a stop function.
 * @example const stopBeat = startHeartbeat(paths); … stopBeat();
 */
export function startHeartbeat(paths: StatePaths): () => void {
  const file = heartbeatFile(paths);
  const beat = (): void => {
    try {
      writeFileSync(file, `${Date.now()}\n`);
    } catch {
      /* state dir gone: the next beat tries again */
    }
  };
  beat();
  const timer = setInterval(beat, HEARTBEAT_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** The live watchdog's pid record on this state dir, or undefined. */
export function watchdogRecord(paths: StatePaths): PidRecord | undefined {
  const record = readPidRecords(paths).find((r) => r.name === WATCHDOG);
  return record && isRecordAlive(record) ? record : undefined;
}

/** What the watchdog appends to the state dir's event stream (fault-events.jsonl) beside the fault events. */
export interface WatchdogEvent {
  ts: number;
  event: 'watchdog_started' | 'controller_died' | 'controller_hung' | 'faults_reverted' | 'controller_restarted' | 'lab_serving' | 'lab_stopped' | 'gave_up' | 'watchdog_stopped';
  by: 'watchdog';
  [key: string]: unknown;
}

export interface WatchOptions {
  stateDir: string;
  /** The faultline executable that restarts the controller (`<bin> up --state-dir …`). */
  bin: string;
  log?: (line: string) => void;
}

/**
 * Runs the watchdog until the lab stops in order, the watchdog is told to stop (SIGTERM), or it gives up.
 * @example await watch({ stateDir: '.faultline', bin: 'bin/faultline' });
 */
export async function watch(options: WatchOptions): Promise<void> {
  const paths = statePaths(options.stateDir);
  const log = options.log ?? ((line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`));
  const other = watchdogRecord(paths);
  if (other && other.pid !== process.pid) {
    log(`another watchdog (pid ${other.pid}) watches ${paths.root}; exiting`);
    return;
  }
  writePidRecord(paths, {
    name: WATCHDOG,
    pid: process.pid,
    pgid: 0, // never group-killed by a cleanup: only `down` stops it, by its pid
    start_ticks: processStartTicks(process.pid),
    stop_signal: 'SIGTERM',
    command: process.argv.join(' '),
  });
  const emit = (event: WatchdogEvent['event'], fields: Record<string, unknown> = {}): void => {
    const line: WatchdogEvent = { ts: Date.now() / 1000, event, by: 'watchdog', ...fields };
    appendFileSync(join(paths.root, 'fault-events.jsonl'), `${JSON.stringify(line)}\n`);
    log(`${event} ${JSON.stringify(fields)}`);
  };
  let stopRequested = false;
  const onSignal = (): void => void (stopRequested = true);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  emit('watchdog_started', { pid: process.pid });
  const deaths: number[] = [];
  const budget = restartBudget();
  /** The controller this watchdog started last, until it reports the lab running. */
  let starting: number | undefined;
  try {
    for (;;) {
      if (stopRequested) break;
      const controller = readPidRecords(paths).find((r) => r.name === 'controller');
      if (controller === undefined) {
        // No record: the controller stopped in order (it removes its record last), or has not written it yet.
        const phase = readStatus(paths)?.phase;
        if (phase === 'stopped' || phase === 'failed') break;
        await sleep(POLL_MS);
        continue;
      }
      if (isRecordAlive(controller)) {
        if (hung(paths) && readStatus(paths)?.phase === 'running') {
          emit('controller_hung', { pid: controller.pid, heartbeat_age_ms: heartbeatAge(paths) });
          try {
            process.kill(controller.pid, 'SIGKILL');
          } catch {
            /* gone meanwhile */
          }
        }
        await sleep(POLL_MS);
        continue;
      }
      // The controller is dead without having finished an orderly stop.
      const diedAt = Date.now();
      const phase = readStatus(paths)?.phase ?? 'unknown';
      emit('controller_died', { pid: controller.pid, phase });
      const reverted = await revertEverything(paths);
      emit('faults_reverted', { ...reverted, ms: Date.now() - diedAt });
      removePidRecord(paths, 'controller');
      if (stopRequested) break;
      if (phase !== 'running' && phase !== 'starting') {
        // It died while stopping: finish the stop as `down` would.
        await finishStop(paths, log);
        emit('lab_stopped', { reason: `the controller died while ${phase}` });
        break;
      }
      deaths.push(diedAt);
      while (deaths.length > 0 && deaths[0] < diedAt - budget.windowMs) deaths.shift();
      if (deaths.length > budget.restarts) {
        await finishStop(paths, log);
        emit('gave_up', { reason: `the controller died ${deaths.length} times within ${budget.windowMs / 1000} s; the lab is stopped and every fault reverted` });
        break;
      }
      const pid = restartController(paths, options.bin);
      starting = pid;
      emit('controller_restarted', { pid, ms_since_death: Date.now() - diedAt });
      const serving = await waitServing(paths, pid, () => stopRequested);
      if (serving) {
        starting = undefined;
        emit('lab_serving', { pid, ms_since_death: Date.now() - diedAt });
      }
      // Not serving (start failed or timed out): the loop sees the dead or failed controller and acts on it.
    }
  } finally {
    // Told to stop (`down`) while a controller it started is still coming up: that controller has no pid record
    // yet for `down` to find, so it is stopped here (it stops what it started), before the watchdog exits.
    if (stopRequested && starting !== undefined && processStartTicks(starting) !== null) {
      try {
        process.kill(starting, 'SIGTERM');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 600 && processStartTicks(starting) !== null; i++) await sleep(50);
    }
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    emit('watchdog_stopped', { reason: stopRequested ? 'told to stop' : 'the lab stopped' });
    const mine = readJson<PidRecord>(join(paths.pidDir, `${WATCHDOG}.json`));
    if (mine?.pid === process.pid) removePidRecord(paths, WATCHDOG);
  }
}

function heartbeatAge(paths: StatePaths): number | null {
  try {
    return Date.now() - statSync(heartbeatFile(paths)).mtimeMs;
  } catch {
    return null;
  }
}

function hung(paths: StatePaths): boolean {
  const age = heartbeatAge(paths);
  return age !== null && age > HUNG_MS;
}

/** Reverts and verifies every fault the journal says may be in effect, as the watchdog. */
async function revertEverything(paths: StatePaths): Promise<{ reverted: string[]; still_active: { id: string; error?: string }[] }> {
  const before = new Set([...readJournal(join(paths.root, 'faults.jsonl')).values()].filter((r) => r.phase === 'pending' || r.phase === 'injected').map((r) => r.id));
  const controller = await Controller.open({ stateDir: paths.root, targets: [], actor: 'watchdog' });
  try {
    const records = controller.list().filter((r) => before.has(r.id));
    return {
      reverted: records.filter((r) => r.phase === 'reverted' || r.phase === 'failed').map((r) => `${r.type}@${r.target}`),
      still_active: records.filter((r) => r.phase === 'injected' || r.phase === 'pending').map((r) => ({ id: r.id, error: r.error })),
    };
  } finally {
    controller.close();
  }
}

async function finishStop(paths: StatePaths, log: (line: string) => void): Promise<void> {
  await cleanupLeftovers(paths, log);
  await unmountPgVolume(paths, log).catch((err: Error) => log(`cannot unmount the postgres volume: ${err.message}`));
}

/** `faultline up` again on the same state dir (so the same ports), detached, logging where the first one did. */
function restartController(paths: StatePaths, bin: string): number | undefined {
  const lab = readJson<{ mitigations?: string }>(paths.labFile);
  // --adopt: the services are alive (the watchdog just reverted their faults); only the controller is new.
  const args = [bin, 'up', '--adopt', '--state-dir', paths.root];
  if (lab?.mitigations !== undefined) args.push('--mitigations', lab.mitigations);
  const fd = openSync(join(paths.logDir, 'controller.log'), 'a');
  try {
    const child = spawn(process.execPath, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, FAULTLINE_RESTARTED_BY: 'watchdog' },
    });
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Waits until the restarted controller reports the lab running (true), fails or exits (false). */
async function waitServing(paths: StatePaths, pid: number | undefined, stop: () => boolean): Promise<boolean> {
  const deadline = Date.now() + SERVE_TIMEOUT_MS;
  while (Date.now() < deadline && !stop()) {
    const status = readStatus(paths);
    if (status !== undefined && status.controller_pid === pid) {
      if (status.phase === 'running') return true;
      if (status.phase === 'failed' || status.phase === 'stopped') return false;
    }
    if (pid !== undefined && processStartTicks(pid) === null) return false;
    await sleep(POLL_MS);
  }
  return false;
}
