/**
 * What Linux's /proc says processes and the machine used: CPU time, resident memory, process groups. One scan of
 * /proc reads every process's stat line once; callers group it as they need (a service's processes, the CPU they
 * used including the children they reaped, the machine's busy time).
 *
 *   /proc/<pid>/stat ─▶ ProcStat (state, pgrp, utime, stime, cutime, cstime, rss)   /proc/stat ─▶ hostCpu()
 *
 * Times are in seconds at USER_HZ precision (1/100 s: /proc's clock-tick unit on Linux, fixed by its ABI on
 * every architecture), memory in bytes (resident pages × the page size).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** /proc's clock ticks per second (USER_HZ). */
export const USER_HZ = 100;

export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie: exited, not yet reaped), … */
  state: string;
  ppid: number;
  pgrp: number;
  /** CPU seconds in user and kernel mode, its own. */
  cpu_s: number;
  /** CPU seconds of the children it has reaped (a postgres postmaster's finished backends). */
  children_cpu_s: number;
  rss_bytes: number;
  /** When it started, in clock ticks since boot (field 22): with the pid, what tells it from a later namesake. */
  start_ticks: number;
}

let pageBytes: number | undefined;

/** The kernel's page size (getconf once; 4096 when getconf is missing). */
export function pageSize(): number {
  if (pageBytes === undefined) {
    try {
      pageBytes = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;
    } catch {
      pageBytes = 4096;
    }
  }
  return pageBytes;
}

/** One process's stat line, or null when it is gone or unreadable. */
export function parseProcStat(pid: number, line: string): ProcStat | null {
  // The command (field 2) may hold spaces and parentheses; the fields after the last ')' are fixed.
  const rest = line.slice(line.lastIndexOf(')') + 2).split(' ');
  if (rest.length < 22) return null;
  const n = (i: number): number => Number(rest[i]);
  return {
    pid,
    state: rest[0],
    ppid: n(1),
    pgrp: n(2),
    cpu_s: (n(11) + n(12)) / USER_HZ,
    children_cpu_s: (n(13) + n(14)) / USER_HZ,
    rss_bytes: n(21) * pageSize(),
    start_ticks: n(19),
  };
}

/** Every process on the machine, zombies included (their time is theirs until their parent reaps them). */
export function readProcStats(): ProcStat[] {
  const out: ProcStat[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const s = parseProcStat(Number(entry), readFileSync(`/proc/${entry}/stat`, 'utf8'));
      if (s) out.push(s);
    } catch {
      /* exited while we looked */
    }
  }
  return out;
}

/**
 * A service's processes: the process group its leader heads (when it heads one), and every descendant of the leader (postgres's
 * children call setsid, so they leave the group but stay its children). Zombies included.
 * @example familyOf(readProcStats(), 4242).map((s) => s.pid) // [4242, 4250, 4251, …]
 */
export function familyOf(stats: readonly ProcStat[], leader: number): ProcStat[] {
  const byPid = new Map(stats.map((s) => [s.pid, s]));
  // Its group counts only when it leads one (an attached process in someone else's group does not own that group).
  const pgid = byPid.get(leader)?.pgrp === leader ? leader : undefined;
  const inFamily = new Map<number, boolean>();
  const belongs = (s: ProcStat): boolean => {
    const known = inFamily.get(s.pid);
    if (known !== undefined) return known;
    inFamily.set(s.pid, false); // a cycle guard while walking up
    const parent = byPid.get(s.ppid);
    const yes = s.pid === leader || (pgid !== undefined && s.pgrp === pgid) || (parent !== undefined && s.ppid !== s.pid && belongs(parent));
    inFamily.set(s.pid, yes);
    return yes;
  };
  return byPid.has(leader) ? stats.filter(belongs) : [];
}

/** What one service's processes used, as of one scan. */
export interface FamilyUsage {
  /** Live members (not zombies). */
  processes: number;
  /**
   * CPU seconds of every member plus the children members reaped: monotonic while the leader lives (a finished
   * member's time moves into its parent's reaped-children time when the parent waits for it).
   */
  cpu_s: number;
  /** Resident memory summed over the live members (a page shared by two members counts twice). */
  rss_bytes: number;
}

/**
 * Usage of each leader's family (familyOf).
 * @example familyUsage(readProcStats(), 4242)?.cpu_s
 */
export function familyUsage(stats: readonly ProcStat[], leader: number): FamilyUsage | undefined {
  const family = familyOf(stats, leader);
  if (family.length === 0) return undefined;
  const u: FamilyUsage = { processes: 0, cpu_s: 0, rss_bytes: 0 };
  for (const s of family) {
    u.cpu_s += s.cpu_s + s.children_cpu_s;
    if (s.state !== 'Z' && s.state !== 'X') {
      u.processes += 1;
      u.rss_bytes += s.rss_bytes;
    }
  }
  u.cpu_s = Math.round(u.cpu_s * USER_HZ) / USER_HZ;
  return u;
}

/** The machine's CPU since boot: busy seconds summed over every CPU (all but idle and iowait), and how many CPUs. */
export function hostCpu(): { busy_s: number; cpus: number } | null {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user already)
    const [user, nice, system, , , irq, softirq, steal] = lines[0].trim().split(/\s+/).slice(1).map(Number);
    const cpus = lines.filter((l) => /^cpu\d+ /.test(l)).length;
    return { busy_s: (user + nice + system + irq + softirq + (steal ?? 0)) / USER_HZ, cpus };
  } catch {
    return null;
  }
}
