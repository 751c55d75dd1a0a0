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
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readJson, writeJson } from '../core/json-file.ts';
import type { PidRecord } from '../core/process.ts';

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

/** The HS256 key for lab tokens: created once per state dir, then reused so tokens survive a restart. */
export function labSecret(paths: StatePaths, create: boolean): string | undefined {
  if (existsSync(paths.secretFile)) return readFileSync(paths.secretFile, 'utf8').trim();
  if (!create) return undefined;
  const secret = randomBytes(32).toString('hex');
  writeFileSync(paths.secretFile, `${secret}\n`, { mode: 0o600 });
  return secret;
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
