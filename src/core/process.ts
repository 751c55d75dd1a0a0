/**
 * Process identity on Linux: a pid alone can be reused, so every process faultline records is known by its pid
 * AND its start time in clock ticks (field 22 of /proc/<pid>/stat). Signals go only to a process whose start
 * time still matches, and a process group counts as alive only while a non-zombie member is in it.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { parseProcStat } from './proc-usage.ts';

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
  /** A process faultline found but did not start (an attached service): never stopped by cleanup or `down`. */
  attached?: boolean;
}

/** The file beside a pid record that holds its process down (a stop fault): the supervisor does not restart it. */
export function holdFileFor(pidFile: string): string {
  return pidFile.replace(/\.json$/, '.hold');
}

/** Start time of a live pid from /proc, or null when it is gone (or /proc is unavailable). */
export function processStartTicks(pid: number): number | null {
  try {
    const s = parseProcStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'));
    return s === null || s.state === 'Z' || s.state === 'X' ? null : s.start_ticks;
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

/**
 * The process listening on a TCP port on this machine, from /proc/net/tcp{,6} (LISTEN sockets) and the socket
 * inodes in /proc/<pid>/fd; undefined when none (or it is not visible to us).
 * @example pidListeningOn(8080) // 41234
 */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A = LISTEN
      if (parseInt(f[1].split(':')[1], 16) === port) inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`));
        if (m && inodes.has(m[1])) return Number(entry);
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return undefined;
}

/** The process group of a live pid (field 5 of /proc/<pid>/stat), or null. */
export function processGroupOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return null;
  }
}
