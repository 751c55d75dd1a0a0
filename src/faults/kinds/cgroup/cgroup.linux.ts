/**
 * The cgroups faultline creates: one per fault, `faultline-<id>`, in whichever hierarchy carries the needed
 * controller on this machine — cgroup v1 (`/sys/fs/cgroup/<controller>`, a controller can be bound to one
 * hierarchy only) or v2 (the unified mount, when it lists the controller). Detected from /proc/self/mountinfo
 * at run time, never assumed.
 *
 *   v1: <mount>/<the process's current cgroup>/faultline-<id>   nested, so limits the process already had
 *                                                                  (a sandbox's memory cap) still apply
 *   v2: <mount>/faultline-<id>                                    a child of the root (no-internal-process rule)
 *
 * apply moves the target's whole process group in (postgres backends too); revert moves every member back to
 * where it came from and removes the cgroup, so an empty hierarchy means no cgroup fault is active.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FaultlineError } from '../../../core/errors.ts';
import { processStartTicks, type PidRecord } from '../../../core/process.ts';
import { readJson } from '../../../core/json-file.ts';
import { familyOf, readProcStats } from '../../../core/proc-usage.ts';
import type { Target } from '../../injector.ts';

export type Controller = 'cpu' | 'memory';

export interface Hierarchy {
  version: 1 | 2;
  mount: string;
}

interface Mount {
  point: string;
  fstype: string;
  superOptions: string[];
}

function mounts(): Mount[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [left, right = ''] = line.split(' - ');
      const [fstype = '', , superOpts = ''] = right.split(' ');
      return { point: left.split(' ')[4] ?? '', fstype, superOptions: superOpts.split(',') };
    });
}

/** The hierarchy that carries `controller` here, or null (then cgroup faults of that kind are unsupported). */
export function hierarchyFor(controller: Controller): Hierarchy | null {
  let all: Mount[];
  try {
    all = mounts();
  } catch {
    return null;
  }
  const v1 = all.find((m) => m.fstype === 'cgroup' && m.superOptions.includes(controller));
  if (v1) return { version: 1, mount: v1.point };
  for (const m of all.filter((x) => x.fstype === 'cgroup2')) {
    try {
      if (readFileSync(join(m.point, 'cgroup.controllers'), 'utf8').split(/\s+/).includes(controller)) return { version: 2, mount: m.point };
    } catch {
      /* unreadable: not this one */
    }
  }
  return null;
}

/** Why `controller` cannot be limited here (null when it can), without touching anything. */
export function staticReason(controller: Controller): string | null {
  if (process.getuid?.() !== 0) return 'needs root (cgroup writes)';
  return hierarchyFor(controller) === null ? `no cgroup hierarchy (v1 or v2) carries the ${controller} controller` : null;
}

/** The cgroup (path relative to the hierarchy root) `pid` is in, read from /proc/<pid>/cgroup. */
export function cgroupOf(pid: number, controller: Controller, h: Hierarchy): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  for (const line of lines) {
    const [hid, list, path] = [line.slice(0, line.indexOf(':')), line.split(':')[1], line.split(':').slice(2).join(':')];
    if (h.version === 2 ? hid === '0' && list === '' : list.split(',').includes(controller)) return path;
  }
  throw new FaultlineError('CAPABILITY_MISSING', `process ${pid} is in no ${controller} cgroup`);
}

/** The target's live process from its pid record (the supervisor rewrites it on restart). */
export function targetProcess(target: Target): PidRecord {
  const record = target.pidFile ? readJson<PidRecord>(target.pidFile) : undefined;
  if (!record || processStartTicks(record.pid) === null || (record.start_ticks !== null && processStartTicks(record.pid) !== record.start_ticks)) {
    throw new FaultlineError('TARGET_UNREACHABLE', `${target.name} has no running process to limit`, { field: 'target' });
  }
  return record;
}

/**
 * Every live process of the target: its process group and every descendant of its leader (postgres's backends
 * call setsid, leaving the group, and each one runs queries: they all count).
 */
export function groupMembers(leader: number): number[] {
  return familyOf(readProcStats(), leader)
    .filter((s) => s.state !== 'Z')
    .map((s) => s.pid);
}

export interface CgroupHandle {
  version: 1 | 2;
  controller: Controller;
  /** The cgroup this fault created. */
  dir: string;
  /** Where the target's processes were, and go back to on revert. */
  origin: string;
  pid: number;
  pgid: number;
  start_ticks: number | null;
  /** Limit files and the values apply writes, e.g. {"cpu.cfs_quota_us": "20000"}. */
  files: Record<string, string>;
}

/** Computes the handle: which cgroup to create and where the target's processes come from (reads only). */
export function planCgroup(target: Target, controller: Controller, id: string, files: (h: Hierarchy) => Record<string, string>): CgroupHandle {
  const h = hierarchyFor(controller);
  if (h === null) throw new FaultlineError('CAPABILITY_MISSING', staticReason(controller) ?? 'no cgroup hierarchy');
  const proc = targetProcess(target);
  const origin = join(h.mount, cgroupOf(proc.pid, controller, h)).replace(/(.)\/$/, '$1');
  // Named with the system's scope, so one lab's cleanup or test never mistakes another lab's cgroup for its own.
  const name = target.scope ? `faultline-${target.scope}-${id}` : `faultline-${id}`;
  const dir = h.version === 1 ? join(origin, name) : join(h.mount, name);
  return { version: h.version, controller, dir, origin, pid: proc.pid, pgid: proc.pgid, start_ticks: proc.start_ticks, files: files(h) };
}

function write(file: string, value: string): void {
  writeFileSync(file, value);
}

/** Creates the cgroup, writes its limits, moves the target's process group in. Idempotent. */
export function applyCgroup(handle: CgroupHandle): void {
  if (processStartTicks(handle.pid) === null || (handle.start_ticks !== null && processStartTicks(handle.pid) !== handle.start_ticks)) {
    throw new FaultlineError('TARGET_UNREACHABLE', `process ${handle.pid} is gone`);
  }
  if (handle.version === 2) {
    // v2 only distributes a controller to children its parent enabled in subtree_control.
    const control = join(dirname(handle.dir), 'cgroup.subtree_control');
    if (!readFileSync(control, 'utf8').split(/\s+/).includes(handle.controller)) write(control, `+${handle.controller}`);
  }
  mkdirSync(handle.dir, { recursive: false, mode: 0o755 });
  for (const [file, value] of Object.entries(handle.files)) write(join(handle.dir, file), value);
  const members = groupMembers(handle.pid);
  for (const pid of members.includes(handle.pid) ? members : [handle.pid, ...members]) {
    try {
      write(join(handle.dir, 'cgroup.procs'), String(pid));
    } catch (err) {
      // A member that exited meanwhile is not an error; the target itself failing to move is.
      if (pid === handle.pid || (err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

/** Moves whoever is in the fault's cgroup back to where they came from, then removes it. Idempotent. */
export async function revertCgroup(handle: CgroupHandle): Promise<void> {
  if (!existsSync(handle.dir)) return;
  // The origin may be gone (a sandbox cgroup torn down); the parent of ours is the next best home.
  const home = existsSync(join(handle.origin, 'cgroup.procs')) ? handle.origin : dirname(handle.dir);
  for (let attempt = 0; ; attempt++) {
    for (const pid of readProcs(handle.dir)) {
      try {
        write(join(home, 'cgroup.procs'), String(pid));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    try {
      rmdirSync(handle.dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      // EBUSY: a member forked or was still exiting between the move and the rmdir; go round again briefly.
      if (code !== 'EBUSY' || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

export function readProcs(dir: string): number[] {
  try {
    return readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A cgroup file of `key value` lines (cpu.stat, memory.events, v1 memory.oom_control) as numbers; {} when unreadable. */
export function readKeyed(dir: string, file: string): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      const [key, value] = line.trim().split(/\s+/);
      if (key && value !== undefined && Number.isFinite(Number(value))) out[key] = Number(value);
    }
  } catch {
    /* gone or not on this kernel */
  }
  return out;
}

/** One number from a cgroup file holding just that (memory.max_usage_in_bytes, memory.peak); undefined when unreadable. */
export function readNumber(dir: string, file: string): number | undefined {
  try {
    const n = Number(readFileSync(join(dir, file), 'utf8').trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The probe: the cgroup exists with the limit apply wrote (true = the fault is in effect). */
export function cgroupInEffect(handle: CgroupHandle): boolean {
  if (!existsSync(handle.dir)) return false;
  return Object.entries(handle.files).every(([file, value]) => {
    try {
      return readFileSync(join(handle.dir, file), 'utf8').trim() === value.trim();
    } catch {
      return false;
    }
  });
}

/**
 * The faultline cgroups on this machine (any hierarchy, any depth ≤ 6): every one, or with `scope` only that
 * system's — what a test checks is empty after its own lab's faults are gone.
 */
export function faultlineCgroups(root = '/sys/fs/cgroup', depth = 6, scope?: string): string[] {
  const prefix = scope === undefined ? 'faultline-' : `faultline-${scope}-`;
  const found: string[] = [];
  const walk = (dir: string, left: number): void => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (e.name.startsWith(prefix)) found.push(join(dir, e.name));
      else if (left > 0) walk(join(dir, e.name), left - 1);
    }
  };
  walk(root, depth);
  return found;
}
