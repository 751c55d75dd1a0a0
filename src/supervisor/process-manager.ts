/**
 * The process manager: starts the lab's processes in dependency order, gating each on its dependencies' health,
 * notices a crash and restarts it with backoff, and stops everything in reverse order (the clean stop signal,
 * then SIGKILL to the whole process group after a grace period). It alone owns the children and their pid files.
 *
 *   spec ─prepare─▶ spawn (own process group, pid file) ─probe…─▶ running ─exit─▶ crashed ─backoff─▶ spawn …
 *                                                          stopAll: stop signal ─grace─▶ SIGKILL -pgid
 *
 * An attached service (kind `attached`) is never started or stopped: it is found by its pid file or by the port it
 * listens on, recorded (so process faults reach it), watched, and found again if someone restarts it.
 *
 * With `adopt`, a service whose pid record names a live, healthy process (a controller died and left it
 * running) is taken over instead of restarted: it is watched through /proc rather than as a child, and from
 * then on treated like any other (restarted if it dies, stopped in order).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../core/clock.ts';
import { FaultlineError } from '../core/errors.ts';
import { probe } from './health.ts';
import { launchFor, prepare, type LaunchContext } from './launch.ts';
import { pidFile, removePidRecord, writePidRecord, type StatePaths } from './state-dir.ts';
import { holdFileFor, isGroupAlive, isRecordAlive, pidListeningOn, processGroupOf, processStartTicks, type PidRecord } from '../core/process.ts';
import { readJson } from '../core/json-file.ts';
import type { ServiceSpec } from './topology.ts';

export type ServiceState =
  | 'pending'
  | 'preparing'
  | 'starting'
  | 'running'
  | 'done'
  | 'crashed'
  | 'restarting'
  | 'stopping'
  | 'stopped'
  | 'failed'
  /** Alive, but its controller is gone (only `faultline status` reports this). */
  | 'orphaned';

/** One service as `faultline status` shows it. */
export interface ServiceStatus {
  name: string;
  kind: string;
  state: ServiceState;
  pid: number | null;
  port: number | null;
  proxy_port: number | null;
  restarts: number;
  /** Wall-clock time (ISO) the current process became healthy. */
  since: string | null;
  last_exit: { code: number | null; signal: string | null; at: string } | null;
  detail: string;
}

export interface ProcessManagerOptions {
  paths: StatePaths;
  basePort: number;
  log: (line: string) => void;
  /** Called after every state change (the daemon rewrites status.json). */
  onChange?: () => void;
  /** How long one process may take to become healthy; default 60 s. */
  healthTimeoutMs?: number;
  /** Take over live, healthy processes the pid records name instead of starting new ones (see the header). */
  adopt?: boolean;
  /** With `adopt`: how long a live recorded process may fail its health check before it is replaced. */
  adoptPatienceMs?: number;
}

/** What the manager holds of a process: a child it spawned, or one it adopted (no handle, just the pid). */
type Proc = Pick<ChildProcess, 'pid'>;

const POLL_MS = 100;
/** How long a live process found at adopt may fail its health check before it is replaced. */
const ADOPT_PATIENCE_MS = 15_000;
const MAX_BACKOFF_MS = 10_000;

class Managed {
  state: ServiceState = 'pending';
  child: Proc | undefined;
  adopted = false;
  exited: Promise<void> = Promise.resolve();
  restarts = 0;
  /** Crashes in a row without a healthy stretch in between: drives the backoff. */
  streak = 0;
  since: Date | null = null;
  lastExit: ServiceStatus['last_exit'] = null;
  detail = '';
  restartTimer: NodeJS.Timeout | undefined;
  constructor(readonly spec: ServiceSpec) {}
}

export class ProcessManager {
  readonly #services: Managed[];
  readonly #options: ProcessManagerOptions;
  readonly #ctx: LaunchContext;
  #stopping = false;

  constructor(specs: ServiceSpec[], options: ProcessManagerOptions) {
    this.#services = specs.map((s) => new Managed(s));
    this.#options = options;
    this.#ctx = { paths: options.paths, basePort: options.basePort, log: options.log };
  }

  /**
   * Starts every service as soon as everything it depends on is healthy (independent ones in parallel).
   * Rejects with LAB_START_FAILED on the first failure; the caller then runs `stopAll`.
   */
  async startAll(): Promise<void> {
    const ready = new Map<string, Promise<void>>();
    for (const m of this.#services) {
      const deps = m.spec.after.map((d) => ready.get(d)!);
      const started = Promise.all(deps).then(async () => {
        if (this.#stopping) throw new FaultlineError('LAB_START_FAILED', 'start interrupted');
        if (m.spec.kind === 'attached') return this.#attach(m);
        if (this.#options.adopt && (await this.#adopt(m))) return;
        return this.#start(m);
      });
      started.catch(() => {}); // awaited below; this only keeps an early rejection from being "unhandled"
      ready.set(m.spec.name, started);
    }
    await Promise.all(ready.values());
  }

  /** Stops every process, last started first. Safe to call more than once, and after a failed start. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    for (const m of this.#services) clearTimeout(m.restartTimer);
    for (const m of [...this.#services].reverse()) await this.#stop(m);
  }

  statuses(): ServiceStatus[] {
    return this.#services.map((m) => ({
      name: m.spec.name,
      kind: m.spec.kind,
      state: m.state,
      pid: m.child?.pid ?? null,
      port: m.spec.listenPort ?? null,
      proxy_port: m.spec.proxyPort ?? null,
      restarts: m.restarts,
      since: m.since?.toISOString() ?? null,
      last_exit: m.lastExit,
      detail: m.detail,
    }));
  }

  #set(m: Managed, state: ServiceState, detail = m.detail): void {
    m.state = state;
    m.detail = detail;
    this.#options.onChange?.();
  }

  async #start(m: Managed): Promise<void> {
    const { spec } = m;
    const t0 = Date.now();
    this.#set(m, 'preparing', '');
    await prepare(spec, this.#ctx);
    this.#set(m, 'starting');
    this.#spawn(m);
    if (spec.health.type === 'exit') {
      await m.exited;
      if (m.lastExit?.code !== 0) {
        this.#set(m, 'failed', `exited ${m.lastExit?.code ?? m.lastExit?.signal}`);
        throw this.#failure(m, `${spec.name} exited ${m.lastExit?.code ?? m.lastExit?.signal}`);
      }
      this.#set(m, 'done', `finished in ${Date.now() - t0} ms`);
      this.#options.log(`${spec.name}: done in ${Date.now() - t0} ms`);
      return;
    }
    const deadline = Date.now() + (this.#options.healthTimeoutMs ?? 60_000);
    let last = '';
    for (;;) {
      if (m.child === undefined) {
        this.#set(m, 'failed', `exited during start (${m.lastExit?.code ?? m.lastExit?.signal})`);
        throw this.#failure(m, `${spec.name} exited during start`);
      }
      if (this.#stopping) throw new FaultlineError('LAB_START_FAILED', 'start interrupted');
      const result = await probe(spec.health);
      if (result.ok) break;
      last = result.detail;
      if (Date.now() > deadline) {
        await this.#stop(m);
        this.#set(m, 'failed', `not healthy after ${this.#options.healthTimeoutMs ?? 60_000} ms (${last})`);
        throw this.#failure(m, `${spec.name} did not become healthy (${last})`);
      }
      await sleep(POLL_MS);
    }
    m.since = new Date();
    this.#set(m, 'running', '');
    this.#options.log(`${spec.name}: healthy in ${Date.now() - t0} ms (pid ${m.child?.pid})`);
  }

  /**
   * Takes over the process m's pid record names, when it is alive and healthy; true when it did. A job counts
   * as done when everything it runs after was adopted (it ran for the lab those processes belong to). A
   * recorded process that is alive but stays unhealthy for the adopt patience is stopped (its group), so a fresh one
   * can start.
   */
  async #adopt(m: Managed): Promise<boolean> {
    const { spec } = m;
    if (spec.health.type === 'exit') {
      const deps = this.#services.filter((d) => spec.after.includes(d.spec.name));
      if (deps.length === 0 || !deps.every((d) => d.adopted || d.state === 'done')) return false;
      this.#set(m, 'done', 'skipped: it ran for the processes adopted');
      return true;
    }
    const record = readJson<PidRecord>(pidFile(this.#options.paths, spec.name));
    if (record === undefined || !isRecordAlive(record)) return false;
    // Alive but failing its check may be a passing state: a fault held inside the process (an agent rule lives
    // until its own TTL, whoever died) or a dependency still coming back. It gets the ADOPT_PATIENCE_MS window
    // (adoptPatienceMs) to answer healthy before it is replaced; a live process is never replaced on one failed probe.
    const patienceMs = this.#options.adoptPatienceMs ?? ADOPT_PATIENCE_MS;
    const patience = Date.now() + patienceMs;
    let health = await probe(spec.health);
    while (!health.ok && isRecordAlive(record) && Date.now() < patience) {
      await sleep(POLL_MS * 2);
      health = await probe(spec.health);
    }
    if (!isRecordAlive(record)) return false;
    if (!health.ok) {
      this.#options.log(`${spec.name}: pid ${record.pid} is alive but stayed unhealthy for ${patienceMs / 1000} s (${health.detail}); replacing it`);
      signalQuietly(record.pgid > 1 ? -record.pgid : record.pid, 'SIGKILL');
      for (let i = 0; i < 100 && isRecordAlive(record); i++) await sleep(20);
      removePidRecord(this.#options.paths, spec.name);
      return false;
    }
    const proc: Proc = { pid: record.pid };
    m.child = proc;
    m.adopted = true;
    m.exited = new Promise((resolve) => {
      const timer = setInterval(() => {
        if (isRecordAlive(record)) return;
        clearInterval(timer);
        this.#onExit(m, proc, null, null);
        resolve();
      }, POLL_MS);
      timer.unref();
    });
    m.since = new Date();
    this.#set(m, 'running', `adopted (pid ${record.pid})`);
    this.#options.log(`${spec.name}: adopted pid ${record.pid} (alive and healthy)`);
    return true;
  }

  /**
   * Finds an attached service's process (pid file, else the port it listens on), waits for its health check, and
   * watches it; when it exits, keeps looking for its successor (someone restarted it) without ever starting one.
   */
  async #attach(m: Managed): Promise<void> {
    const { spec } = m;
    this.#set(m, 'starting', 'looking for the process');
    const deadline = Date.now() + (this.#options.healthTimeoutMs ?? 60_000);
    for (;;) {
      const pid = findAttached(spec);
      if (pid !== undefined && (await probe(spec.health)).ok) {
        this.#watchAttached(m, pid);
        this.#options.log(`${spec.name}: attached to pid ${pid} (faultline will not start or stop it)`);
        return;
      }
      if (this.#stopping) throw new FaultlineError('LAB_START_FAILED', 'start interrupted');
      if (Date.now() > deadline) {
        const where = spec.pidFile ? `pid file ${spec.pidFile}` : `port ${spec.listenPort}`;
        this.#set(m, 'failed', `no healthy process found by ${where}`);
        throw new FaultlineError('LAB_START_FAILED', `${spec.name} is attached, but no healthy process was found by ${where}`, {
          hint: 'start it yourself first: faultline attaches to it, it never starts it',
        });
      }
      await sleep(POLL_MS);
    }
  }

  #watchAttached(m: Managed, pid: number): void {
    const ticks = processStartTicks(pid);
    const pgid = processGroupOf(pid);
    writePidRecord(this.#options.paths, {
      name: m.spec.name,
      pid,
      // Its whole group only when it leads one of its own; otherwise signals go to the pid alone.
      pgid: pgid === pid ? pid : 0,
      start_ticks: ticks,
      stop_signal: m.spec.stopSignal,
      command: readCmdline(pid),
      attached: true,
    });
    const proc: Proc = { pid };
    m.child = proc;
    m.since = new Date();
    this.#set(m, 'running', `attached (pid ${pid})`);
    const timer = setInterval(() => {
      if (this.#stopping) return clearInterval(timer);
      if (m.child === proc && processStartTicks(pid) === ticks) return;
      if (m.child === proc) {
        m.child = undefined;
        m.since = null;
        m.lastExit = { code: null, signal: null, at: new Date().toISOString() };
        this.#set(m, 'crashed', 'the attached process exited; faultline does not restart it, it waits for its successor');
        this.#options.log(`${m.spec.name}: attached pid ${pid} exited`);
      }
      const next = findAttached(m.spec);
      if (next !== undefined && next !== pid) {
        clearInterval(timer);
        void probe(m.spec.health).then((r) => {
          if (r.ok && !this.#stopping) {
            this.#watchAttached(m, next);
            this.#options.log(`${m.spec.name}: attached to its successor, pid ${next}`);
          } else if (!this.#stopping) this.#watchAttached(m, pid); // not healthy yet: look again next tick
        });
      }
    }, POLL_MS * 5);
    timer.unref();
    m.exited = new Promise((resolve) => {
      const done = setInterval(() => {
        if (this.#stopping) {
          clearInterval(done);
          resolve();
        }
      }, POLL_MS);
      done.unref();
    });
  }

  #failure(m: Managed, message: string): FaultlineError {
    return new FaultlineError('LAB_START_FAILED', `${message}; last log lines: ${logTail(this.#logFile(m.spec.name))}`, {
      hint: `full log: ${this.#logFile(m.spec.name)}`,
    });
  }

  #logFile(name: string): string {
    return join(this.#options.paths.logDir, `${name}.log`);
  }

  #spawn(m: Managed): void {
    const launch = launchFor(m.spec, this.#ctx);
    const fd = openSync(this.#logFile(m.spec.name), 'a');
    let child: ChildProcess;
    try {
      // detached: its own process group, so `down` can kill it and everything it forked with one signal, and a
      // Ctrl-C in the daemon's terminal reaches the daemon only (which then stops things in order).
      child = spawn(launch.cmd, launch.args, {
        cwd: launch.cwd,
        env: launch.env,
        uid: launch.uid,
        gid: launch.gid,
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    m.child = child;
    m.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#onExit(m, child, code, signal);
        resolve();
      });
      child.once('error', (err) => {
        m.detail = err.message;
        if (child.pid === undefined) {
          this.#onExit(m, child, null, null);
          resolve();
        }
      });
    });
    if (child.pid !== undefined) {
      writePidRecord(this.#options.paths, {
        name: m.spec.name,
        pid: child.pid,
        pgid: child.pid,
        start_ticks: processStartTicks(child.pid),
        stop_signal: m.spec.stopSignal,
        command: `${launch.cmd} ${launch.args.join(' ')}`,
      });
    }
  }

  #onExit(m: Managed, child: Proc, code: number | null, signal: NodeJS.Signals | null): void {
    if (m.child !== child) return;
    m.child = undefined;
    m.lastExit = { code, signal, at: new Date().toISOString() };
    removePidRecord(this.#options.paths, m.spec.name);
    if (child.pid !== undefined && isGroupAlive(child.pid)) {
      // The leader died but left children (a postgres backend, say): they belong to the dead instance.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    if (m.state === 'stopping') return this.#set(m, 'stopped', '');
    if (m.state !== 'running') return; // a failed start or a job's end: #start reports it
    const ranMs = m.since ? Date.now() - m.since.getTime() : 0;
    m.streak = ranMs > 30_000 ? 1 : m.streak + 1;
    m.since = null;
    const how = signal ?? `code ${code}`;
    this.#options.log(`${m.spec.name}: crashed (${how})`);
    this.#set(m, 'crashed', `exited unexpectedly (${how})`);
    if (m.spec.restart && !this.#stopping) this.#scheduleRestart(m);
  }

  #scheduleRestart(m: Managed): void {
    const delay = Math.min(250 * 2 ** (m.streak - 1), MAX_BACKOFF_MS);
    m.restartTimer = setTimeout(() => {
      if (this.#stopping) return;
      // A stop fault holds it down: look again shortly, restart once the hold is gone.
      if (existsSync(holdFileFor(pidFile(this.#options.paths, m.spec.name)))) {
        this.#set(m, 'crashed', 'held down by a stop fault');
        m.restartTimer = setTimeout(() => this.#scheduleRestart(m), POLL_MS);
        m.streak = 0;
        return;
      }
      m.restarts += 1;
      this.#options.log(`${m.spec.name}: restarting (restart ${m.restarts}, after ${delay} ms)`);
      this.#set(m, 'restarting');
      this.#start(m).catch((err: unknown) => {
        this.#options.log(`${m.spec.name}: restart failed: ${err instanceof Error ? err.message : err}`);
        if (this.#stopping) return;
        m.streak += 1;
        this.#set(m, 'crashed', 'restart failed');
        this.#scheduleRestart(m);
      });
    }, delay);
  }

  /** Clean stop signal to the leader; after the grace period, SIGKILL to its whole process group. */
  async #stop(m: Managed): Promise<void> {
    if (m.spec.kind === 'attached') {
      // Never stopped by faultline: forget it (its record goes, so no cleanup can ever signal it).
      removePidRecord(this.#options.paths, m.spec.name);
      m.child = undefined;
      if (m.state !== 'pending' && m.state !== 'failed') this.#set(m, 'stopped', 'detached (still running: faultline does not stop it)');
      return;
    }
    const child = m.child;
    if (child?.pid === undefined) {
      if (m.state !== 'pending' && m.state !== 'failed' && m.state !== 'done') this.#set(m, 'stopped', '');
      return;
    }
    this.#set(m, 'stopping');
    const pid = child.pid;
    const t0 = Date.now();
    signalQuietly(pid, m.spec.stopSignal);
    // The waits are aborted once the process exits, so no timer outlives the stop.
    const waits = new AbortController();
    const exited = await Promise.race([m.exited.then(() => true), sleep(m.spec.graceMs, waits.signal).then(() => false)]);
    if (!exited) {
      this.#options.log(`${m.spec.name}: no exit ${m.spec.graceMs} ms after ${m.spec.stopSignal}; SIGKILL to its group`);
      signalQuietly(-pid, 'SIGKILL');
      await Promise.race([m.exited, sleep(2_000, waits.signal)]);
    }
    waits.abort();
    if (isGroupAlive(pid)) signalQuietly(-pid, 'SIGKILL');
    this.#options.log(`${m.spec.name}: stopped in ${Date.now() - t0} ms`);
  }
}

/** An attached service's pid: from its pid file (a number, or JSON with a pid), else from its port. */
function findAttached(spec: ServiceSpec): number | undefined {
  if (spec.pidFile !== undefined) {
    try {
      const text = readFileSync(spec.pidFile, 'utf8').trim();
      const pid = text.startsWith('{') ? Number((JSON.parse(text) as { pid?: unknown }).pid) : Number(text);
      return Number.isInteger(pid) && pid > 1 && processStartTicks(pid) !== null ? pid : undefined;
    } catch {
      return undefined;
    }
  }
  return spec.listenPort !== undefined ? pidListeningOn(spec.listenPort) : undefined;
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

function signalQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}
