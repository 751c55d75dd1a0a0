/**
 * How each kind of lab process is prepared (once: initdb, pg_basebackup) and launched (the exact command line).
 * PostgreSQL refuses to run as root, so when we are root its commands run as the `postgres` user and its data
 * dirs are chowned to it; everything else runs as us.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FaultlineError } from '../core/errors.ts';
import { run } from '../core/exec.ts';
import { faketimeEnv, primaryDataDir } from './fault-surfaces.ts';
import { type StatePaths } from './state-dir.ts';
import { processStartTicks } from '../core/process.ts';
import type { ServiceSpec } from './topology.ts';
import { AGENT_BUNDLE } from '../agent/bundle.ts';
import { AGENT_ENV } from '../agent/protocol.ts';
import { agentToken } from '../agent/token.ts';
import { pathToFileURL } from 'node:url';

/** The environment that loads the runtime agent into a Node process and points it at the controller. */
export function agentEnv(controller: string, token: string, service: string, nodeOptions?: string): Record<string, string> {
  const load = `--import=${pathToFileURL(AGENT_BUNDLE).href}`;
  return {
    NODE_OPTIONS: nodeOptions ? `${nodeOptions} ${load}` : load,
    [AGENT_ENV.controller]: controller,
    [AGENT_ENV.token]: token,
    [AGENT_ENV.service]: service,
  };
}

/** Where the PostgreSQL 15 server binaries are (override with FAULTLINE_PG_BIN). */
export function pgBinDir(): string {
  return process.env.FAULTLINE_PG_BIN ?? '/usr/lib/postgresql/15/bin';
}

/**
 * What these processes need from the machine that is missing, as human-readable lines (empty = all present):
 * PostgreSQL's server binaries for postgres services, redis-server for redis ones. Default: what the built-in
 * lab needs (both).
 */
export function missingPrerequisites(specs?: readonly Pick<ServiceSpec, 'kind'>[]): string[] {
  const missing: string[] = [];
  const needs = (k: string): boolean => specs === undefined || specs.some((s) => s.kind.startsWith(k));
  if (needs('postgres')) {
    for (const bin of ['postgres', 'initdb', 'pg_basebackup']) {
      if (!existsSync(join(pgBinDir(), bin))) missing.push(`${join(pgBinDir(), bin)} (PostgreSQL 15 server)`);
    }
    if (process.getuid?.() === 0 && postgresUser() === undefined) missing.push('a `postgres` user to run PostgreSQL as');
  }
  if (needs('redis') && !findOnPath('redis-server')) missing.push('redis-server (Debian package redis-server)');
  return missing;
}

/** What the built-in lab needs from the machine that is missing (PostgreSQL, Redis). */
export function missingLabPrerequisites(): string[] {
  return missingPrerequisites();
}

function findOnPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** uid/gid to run PostgreSQL as: the `postgres` user when we are root, else undefined (ourselves). */
export function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

export interface Launch {
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  uid?: number;
  gid?: number;
}

export interface LaunchContext {
  paths: StatePaths;
  basePort: number;
  log: (line: string) => void;
}

/** The primary's data lives on its size-bounded volume when `up` could mount one (see fault-surfaces.ts). */
function dataDir(spec: ServiceSpec, paths: StatePaths): string {
  return spec.kind === 'postgres-primary' ? primaryDataDir(paths) : join(paths.pgDir, 'replica');
}


/** One-time preparation before the first launch: initdb for the primary, a base backup for the replica. */
export async function prepare(spec: ServiceSpec, ctx: LaunchContext): Promise<void> {
  if (spec.kind !== 'postgres-primary' && spec.kind !== 'postgres-replica') return;
  const dir = dataDir(spec, ctx.paths);
  const user = postgresUser();
  const asPg = { uid: user?.uid, gid: user?.gid, cwd: ctx.paths.pgDir, log: ctx.log };
  removeStalePostmasterPid(dir, ctx.log);
  if (existsSync(join(dir, 'PG_VERSION'))) return;
  // A half-made data dir (an interrupted initdb or base backup) is useless: start it over.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  if (user) chownSync(dir, user.uid, user.gid);
  const bin = pgBinDir();
  const pgUser = spec.pg!.user;
  if (spec.kind === 'postgres-primary') {
    // A new primary has a new system identifier: a replica copied from the old one could never stream from it.
    rmSync(join(ctx.paths.pgDir, 'replica'), { recursive: true, force: true });
    await run(join(bin, 'initdb'), ['-D', dir, '-U', pgUser, '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'], asPg);
    // The database clients name exists from the first start (single-user mode: no server, no port needed).
    const db = spec.pg!.database;
    if (!['postgres', 'template0', 'template1'].includes(db)) {
      await run(join(bin, 'postgres'), ['--single', '-D', dir, 'postgres'], { ...asPg, input: `CREATE DATABASE "${db}"\n` });
    }
  } else {
    await run(
      join(bin, 'pg_basebackup'),
      ['-h', '127.0.0.1', '-p', String(spec.pg!.primaryPort), '-U', pgUser, '-D', dir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync'],
      { ...asPg, timeoutMs: 120_000 },
    );
  }
}

/**
 * postgres leaves postmaster.pid behind when it is SIGKILLed; it then refuses to start if that pid now belongs
 * to any live process. We only remove the file when its pid is gone or is not a postgres process.
 */
function removeStalePostmasterPid(dir: string, log: (line: string) => void): void {
  const file = join(dir, 'postmaster.pid');
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').split('\n')[0]);
  let comm = '';
  try {
    comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    /* gone */
  }
  if (processStartTicks(pid) === null || comm !== 'postgres') {
    log(`removing stale ${file} (pid ${pid} is not a running postgres)`);
    rmSync(file, { force: true });
  }
}

/** The command line that runs `spec` in the foreground (the supervisor owns the process). */
export function launchFor(spec: ServiceSpec, ctx: LaunchContext): Launch {
  const baseEnv: NodeJS.ProcessEnv = { ...process.env, ...spec.env };
  // Settings on the command line, not in postgresql.conf, so a changed base port takes effect on the next `up`
  // and a base backup copies nothing that must be rewritten.
  if (spec.kind === 'postgres-primary' || spec.kind === 'postgres-replica') {
    const user = postgresUser();
    const settings: Record<string, string> = {
      port: String(spec.listenPort),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      // A lab is disposable: durability costs latency the experiments do not need (replication still streams).
      fsync: spec.pg!.durable ? 'on' : 'off',
      synchronous_commit: spec.pg!.durable ? 'on' : 'off',
      wal_level: 'replica',
      max_wal_senders: '5',
      // Bounded so WAL alone cannot fill the primary's 256 MiB volume (disk_fill decides when it is full).
      wal_keep_size: '64MB',
      max_wal_size: '96MB',
      min_wal_size: '32MB',
      hot_standby: 'on',
      hot_standby_feedback: 'on',
      shared_buffers: '64MB',
      max_connections: '100',
      logging_collector: 'off',
      log_min_messages: 'warning',
    };
    if (spec.kind === 'postgres-replica') {
      settings.primary_conninfo = `host=127.0.0.1 port=${spec.pg!.primaryPort} user=${spec.pg!.user} application_name=${spec.name}`;
    }
    const args = ['-D', dataDir(spec, ctx.paths)];
    for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
    return { cmd: join(pgBinDir(), 'postgres'), args, env: baseEnv, cwd: ctx.paths.pgDir, uid: user?.uid, gid: user?.gid };
  }
  if (spec.kind === 'redis') {
    const args = ['--port', String(spec.listenPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--daemonize', 'no', '--dir', ctx.paths.redisDir, '--protected-mode', 'yes', '--loglevel', 'warning');
    return { cmd: 'redis-server', args, env: baseEnv, cwd: ctx.paths.redisDir };
  }
  if (spec.command === undefined) throw new FaultlineError('INTERNAL', `${spec.name}: a ${spec.kind} needs a command`);
  // Services that opted in to clock faults start under libfaketime (when installed), so the offset file skews them.
  let env = spec.clock ? { ...baseEnv, ...faketimeEnv(ctx.paths, spec.name) } : baseEnv;
  // Services that opted in to the runtime agent load it before their own code (the daemon built the bundle).
  if (spec.agent !== undefined) env = { ...env, ...agentEnv(spec.agent.controller, agentToken(ctx.paths.root), spec.name, env.NODE_OPTIONS) };
  // `node` is this very Node, so a system file runs the same runtime faultline does.
  const [cmd, ...args] = spec.command;
  return { cmd: cmd === 'node' ? process.execPath : cmd, args, env, cwd: spec.cwd };
}
