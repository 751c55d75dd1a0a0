/**
 * The lab's state dir (default `.faultline/`): where everything a running lab leaves on disk lives, so any
 * later command — `status`, `down`, `token`, a new `up` — can find it even after the daemon died.
 *
 *   <state>/lab.json            settings a second `up` reuses (base port)
 *   <state>/status.json         the daemon's latest view of every service (rewritten on each change)
 *   <state>/secret              HS256 key the api checks tokens with (0600)
 *   <state>/pids/<name>.json    one per live process: pid, process group, /proc start time
 *   <state>/logs/<name>.log     stdout+stderr of every process, and controller.log
 *   <state>/pg/{primary,replica} PostgreSQL data dirs (owned by the postgres user when run as root)
 *   <state>/pg/primary.img      when root: ext4 image loop-mounted at pg/primary-vol/ by `up` (primary's PGDATA
 *                               is then pg/primary-vol/data), unmounted by `down` — see fault-surfaces.ts
 *   <state>/faketime/<service>  libfaketime offset file of each node service ("+0" = true time)
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const DEFAULT_STATE_DIR = '.faultline';

export interface StatePaths {
  root: string;
  labFile: string;
  statusFile: string;
  secretFile: string;
  pidDir: string;
  logDir: string;
  pgDir: string;
  redisDir: string;
  daemonPidFile: string;
}

/** Absolute paths of everything under a state dir (nothing is created). */
export function statePaths(stateDir: string = DEFAULT_STATE_DIR): StatePaths {
  const root = resolve(stateDir);
  return {
    root,
    labFile: join(root, 'lab.json'),
    statusFile: join(root, 'status.json'),
    secretFile: join(root, 'secret'),
    pidDir: join(root, 'pids'),
    logDir: join(root, 'logs'),
    pgDir: join(root, 'pg'),
    redisDir: join(root, 'redis'),
    daemonPidFile: join(root, 'pids', 'controller.json'),
  };
}

/** Creates the dirs; 0755 so the postgres user (when we are root) can reach its data dir inside. */
export function ensureStateDir(paths: StatePaths): void {
  for (const dir of [paths.root, paths.pidDir, paths.logDir, paths.pgDir, paths.redisDir]) {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
  }
}

/** Writes JSON atomically (write + rename), so a reader never sees half a file. */
export function writeJson(file: string, value: unknown, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  renameSync(tmp, file);
}

export function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The HS256 key for lab tokens: created once per state dir, then reused so tokens survive a restart. */
export function labSecret(paths: StatePaths, create: boolean): string | undefined {
  if (existsSync(paths.secretFile)) return readFileSync(paths.secretFile, 'utf8').trim();
  if (!create) return undefined;
  const secret = randomBytes(32).toString('hex');
  writeFileSync(paths.secretFile, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** What a pid file records: enough to tell our process from an unrelated one that reused the pid. */
export interface PidRecord {
  name: string;
  pid: number;
  /** Process group to signal (children are spawned as group leaders, so pgid = pid). */
  pgid: number;
  /** Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot. */
  start_ticks: number | null;
  /** Signal that stops it cleanly (postgres: SIGINT = fast shutdown). */
  stop_signal: NodeJS.Signals;
  command: string;
}

/** Start time of a live pid from /proc, or null when it is gone (or /proc is unavailable). */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const state = rest[0];
    if (state === 'Z' || state === 'X') return null;
    return Number(rest[19]);
  } catch {
    return null;
  }
}

/** True when the recorded process is still the one we started (same pid, same start time). */
export function isRecordAlive(record: PidRecord): boolean {
  const ticks = processStartTicks(record.pid);
  if (ticks === null) return false;
  return record.start_ticks === null || record.start_ticks === ticks;
}

/**
 * True when any live (non-zombie) process is in the group. Zombies count as gone: children of a controller
 * that was SIGKILLed are reparented, and in a container the new parent may never reap them.
 */
export function isGroupAlive(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    // No /proc: fall back to signal 0 (which also sees zombies).
    try {
      process.kill(-pgid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[2]) === pgid && rest[0] !== 'Z' && rest[0] !== 'X') return true;
  }
  return false;
}

export function pidFile(paths: StatePaths, name: string): string {
  return join(paths.pidDir, `${name}.json`);
}

export function writePidRecord(paths: StatePaths, record: PidRecord): void {
  writeJson(pidFile(paths, record.name), record);
}

export function removePidRecord(paths: StatePaths, name: string): void {
  rmSync(pidFile(paths, name), { force: true });
}

/** Every pid record in the state dir (the controller's included). */
export function readPidRecords(paths: StatePaths): PidRecord[] {
  let names: string[];
  try {
    names = readdirSync(paths.pidDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => readJson<PidRecord>(join(paths.pidDir, n)))
    .filter((r): r is PidRecord => r !== undefined && Number.isInteger(r.pid) && r.pid > 1);
}
