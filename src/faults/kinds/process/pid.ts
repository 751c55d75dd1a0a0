/**
 * What every process fault shares: reading the supervisor's pid record for a target, telling the recorded
 * process from an unrelated one that reused its pid (start ticks), signalling it safely, and waiting for the
 * supervisor to bring a *new* instance back to health.
 *
 *   pid record ─▶ Victim {pid, pgid, start_ticks} ─▶ signal (only if /proc still shows the same start ticks)
 *                                                   └▶ back? = a different live process in the record + healthy
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { sleep } from '../../../core/clock.ts';
import { FaultlineError } from '../../../core/errors.ts';
import { processStartTicks, type PidRecord } from '../../../core/process.ts';
import { readJson } from '../../../core/json-file.ts';
import type { Target } from '../../injector.ts';

/** The process a fault acted on, as journaled in its handle (plain JSON). */
export interface Victim {
  pid: number;
  pgid: number;
  start_ticks: number | null;
}

/** Where a process fault finds the target's current process, and how it knows the service is healthy. */
export interface ProcessTarget {
  name: string;
  pidFile: string;
  /** GET {http}/healthz must answer 200 for the service to count as back. */
  http?: string;
  /** Else: a TCP connect to this loopback port must succeed. */
  port?: number;
}

export function processTarget(target: Target): ProcessTarget {
  if (!target.pidFile) throw new FaultlineError('CAPABILITY_MISSING', `target ${target.name} has no pid record`);
  return { name: target.name, pidFile: target.pidFile, ...(target.http ? { http: target.http } : {}), ...(target.port ? { port: target.port } : {}) };
}

export const noPidFile = (t: Target): string | null => (t.pidFile ? null : `${t.name} has no pid record (it is not a process faultline supervises)`);

/** The target's current process from its pid record, or null when there is none (or it is not alive). */
export function currentVictim(pidFile: string): Victim | null {
  const record = readJson<PidRecord>(pidFile);
  if (record === undefined || !Number.isInteger(record.pid) || record.pid <= 1) return null;
  if (!isSame({ pid: record.pid, pgid: record.pgid, start_ticks: record.start_ticks })) return null;
  return { pid: record.pid, pgid: record.pgid, start_ticks: record.start_ticks };
}

/** True while the journaled process still runs: same pid AND same start ticks (a reused pid is not it). */
export function isSame(v: Victim): boolean {
  const ticks = processStartTicks(v.pid);
  return ticks !== null && (v.start_ticks === null || v.start_ticks === ticks);
}

/** The one-letter scheduler state of a live pid (R, S, T, …) from /proc, or null when gone. */
export function procState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

/**
 * Sends `signal` to the victim's process group (its whole instance: a node service and anything it forked), or
 * to the pid alone when it is not a group leader. Refuses — returns false — when the pid now belongs to another
 * process, so a pid reused since the record was written is never signalled.
 * @example if (!signalVictim(v, 'SIGSTOP')) throw new Error('gone');
 */
export function signalVictim(v: Victim, signal: NodeJS.Signals): boolean {
  if (!isSame(v)) return false;
  try {
    process.kill(v.pgid > 1 && v.pgid === v.pid ? -v.pgid : v.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Waits (polling /proc every ms) until the victim has exited; false when it still runs at the deadline. */
export async function waitGone(v: Victim, timeoutMs: number): Promise<boolean> {
  const start = Date.now();
  const deadline = start + timeoutMs;
  for (;;) {
    if (!isSame(v)) return true;
    if (Date.now() >= deadline) return false;
    // A SIGKILLed process is gone within a millisecond or two: poll on the loop's next turn at first, then back off.
    if (Date.now() - start < 10) await new Promise((r) => setImmediate(r));
    else await sleep(2);
  }
}

/**
 * SIGTERM, then SIGKILL to the group once `graceMs` passed without an exit — how a supervisor stops a process.
 * @example await terminate(victim, 3000);
 */
export async function terminate(v: Victim, graceMs: number): Promise<void> {
  if (!signalVictim(v, 'SIGTERM')) return;
  if (await waitGone(v, graceMs)) return;
  signalVictim(v, 'SIGKILL');
  await waitGone(v, 2_000);
}

/** The supervisor's view of a service (status.json beside the pid dir), when there is one. */
function supervisorState(t: ProcessTarget): { state: string; pid: number | null } | undefined {
  const status = readJson<{ services?: { name: string; state: string; pid: number | null }[] }>(join(dirname(dirname(t.pidFile)), 'status.json'));
  return status?.services?.find((s) => s.name === basename(t.pidFile, '.json'));
}

/**
 * Whether a live supervisor could still replace the target's process: the controller recorded beside the pid
 * record is alive. Without one (it died, and the watchdog is reverting), nothing brings a killed process back
 * until the lab restarts, so an outage is no longer something a revert can wait for.
 */
export function supervisorAlive(t: ProcessTarget): boolean {
  const record = readJson<PidRecord>(join(dirname(t.pidFile), 'controller.json'));
  if (record === undefined) return false;
  return isSame({ pid: record.pid, pgid: record.pgid, start_ticks: record.start_ticks });
}

async function probeHealth(t: ProcessTarget): Promise<boolean> {
  if (t.http) {
    try {
      const res = await fetch(`${t.http}/healthz`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }
  if (t.port) {
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: t.port! });
      const done = (ok: boolean): void => {
        socket.destroy();
        resolve(ok);
      };
      socket.once('connect', () => done(true)).once('error', () => done(false));
      socket.setTimeout(1_000, () => done(false));
    });
  }
  return true;
}

/**
 * The instance that replaced `v`, when one runs and is healthy: a different live process in the pid record
 * that the supervisor reports `running` (status.json: it passed the supervisor's own health probe), or —
 * without a supervisor status — that answers /healthz (or accepts TCP on its port).
 */
export async function replacement(t: ProcessTarget, v: Victim | null): Promise<Victim | null> {
  const now = currentVictim(t.pidFile);
  if (now === null || (v !== null && now.pid === v.pid && now.start_ticks === v.start_ticks)) return null;
  const sup = supervisorState(t);
  if (sup !== undefined) return sup.state === 'running' && sup.pid === now.pid ? now : null;
  return (await probeHealth(t)) ? now : null;
}

/**
 * Waits until a new healthy instance replaced `v`; resolves it, or null at the deadline.
 * @example const back = await waitReplaced(target, victim, 30_000);
 */
export async function waitReplaced(t: ProcessTarget, v: Victim | null, timeoutMs: number): Promise<Victim | null> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const back = await replacement(t, v);
    if (back !== null || Date.now() >= deadline) return back;
    await sleep(20);
  }
}

/**
 * The members of a group for rolling faults: every pid record in the same pid dir named `<base>-<n>`, where
 * `<base>` is the target's name with a trailing `-<n>` removed (`orders-2` → orders-1, orders-2; a target named
 * `orders` → orders-1, orders-2 too). Sorted by name so a roll is reproducible.
 */
export function groupMembers(t: ProcessTarget, readDir: (dir: string) => string[]): ProcessTarget[] {
  const base = basename(t.pidFile, '.json').replace(/-[0-9]+$/, '');
  const dir = dirname(t.pidFile);
  const names = readDir(dir)
    .filter((f) => f.endsWith('.json') && new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9]+\\.json$`).test(f))
    .sort();
  return names.map((f) => {
    const name = f.slice(0, -5);
    const self = name === t.name;
    // Only the target itself has a known HTTP address; siblings are judged by the supervisor's status.
    return { name, pidFile: join(dir, f), ...(self && t.http ? { http: t.http } : {}), ...(self && t.port ? { port: t.port } : {}) };
  });
}

/**
 * The capability check of every process fault: /proc must show start times (how a reused pid is told apart),
 * and this user must be allowed to signal the processes it supervises (any user may signal its own).
 */
export async function probeProcfs(): Promise<string | null> {
  return processStartTicks(process.pid) === null ? '/proc/<pid>/stat is not readable (process faults need start times to avoid signalling a reused pid)' : null;
}
