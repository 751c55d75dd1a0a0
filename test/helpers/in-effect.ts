/**
 * Probes, from outside faultline, for every kernel-level or process-level fault that could still be in effect on
 * a lab: nftables table, faultline cgroups, burner processes, fill files on the bounded volume, a skewed clock
 * file, SIGSTOPped lab processes. Shared by the kernel-faults e2e test and bench/deadman.ts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { kernelScope } from '../../src/core/scope.ts';
import { faultlineCgroups } from '../../src/faults/kinds/cgroup/cgroup.linux.ts';
import { tableFor } from '../../src/faults/kinds/nftables/nft.linux.ts';
import { readOffset } from '../../src/faults/kinds/clock/clock_skew.ts';
import { faketimeFile, pgVolume } from '../../src/supervisor/fault-surfaces.ts';
import { readPidRecords, statePaths } from '../../src/supervisor/state-dir.ts';

/** Lab processes in state T (SIGSTOPped), read from /proc for every pid record of every lab state dir probed. */
export function stoppedIn(stateDir: string): string[] {
  return readPidRecords(statePaths(stateDir))
    .filter((r) => {
      try {
        return readFileSync(`/proc/${r.pid}/stat`, 'utf8').replace(/^.*\) /, '').startsWith('T');
      } catch {
        return false;
      }
    })
    .map((r) => r.name);
}

export function nftTables(): string {
  try {
    return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

/** Live processes whose command line carries a burner marker. */
export function burners(marker = 'faultline-burner-'): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const args = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (args.some((a) => a.startsWith(marker)) && stat[stat.lastIndexOf(')') + 2] !== 'Z') pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Fill files disk_fill left on the lab's bounded postgres volume. */
export function fillFiles(stateDir: string): string[] {
  const volume = pgVolume(statePaths(stateDir)).mountpoint;
  return existsSync(volume) ? readdirSync(volume).filter((f) => f.startsWith('faultline-fill-')) : [];
}

/** The nftables table of the lab in `stateDir` (each lab has its own: core/scope.ts). */
export function labTable(stateDir: string): string {
  return tableFor(kernelScope(statePaths(stateDir).root));
}

/** Whether the lab in `stateDir` has its nftables table (present only while it has kernel-level loss faults). */
export function hasLabTable(stateDir: string): boolean {
  return new RegExp(`table inet ${labTable(stateDir)}\\b`).test(nftTables());
}

/** The faultline cgroups of the lab in `stateDir` only. */
export function labCgroups(stateDir: string): string[] {
  return faultlineCgroups('/sys/fs/cgroup', 6, kernelScope(statePaths(stateDir).root));
}

/**
 * The families still in effect on the lab in `stateDir` (empty when none), `clockService` = whose clock to read.
 * Only this lab's kernel objects count: another lab on the machine may have faults of its own.
 */
export function faultsInEffect(stateDir: string, clockService: string): string[] {
  const found: string[] = [];
  if (hasLabTable(stateDir)) found.push('nftables');
  if (labCgroups(stateDir).length > 0) found.push('cgroup');
  if (burners(`faultline-burner-${kernelScope(statePaths(stateDir).root)}-`).length > 0) found.push('cpu_burner');
  if (fillFiles(stateDir).length > 0) found.push('disk_fill');
  if (readOffset(faketimeFile(statePaths(stateDir), clockService)) !== 0) found.push('clock_skew');
  if (stoppedIn(stateDir).length > 0) found.push('pause');
  return found;
}

/** The lab service whose clock the clock_skew fault of oneFaultPerFamily moves (what faultsInEffect should read). */
export const CLOCK_TARGET = 'api';

/**
 * One fault of every family on the lab, each on a target that can take it, for crash tests and the dead-man bench.
 * Families this machine cannot run are left out (`skip`).
 */
export function oneFaultPerFamily(skip: { nftables?: boolean; cgroup?: boolean; disk?: boolean; clock?: boolean } = {}): { type: string; target: string; params?: Record<string, unknown> }[] {
  const faults: { type: string; target: string; params?: Record<string, unknown> }[] = [
    { type: 'latency', target: 'payments', params: { delay_ms: 100 } },
    { type: 'cpu_burner', target: 'worker', params: { cores: 1, pct: 20 } },
    // The in-process families: they live in lab processes (paused, payments' control state, the api proxy's
    // HTTP toxic, the agent's rule inside orders-1), so a cleanup that kills or restarts those processes ends them.
    { type: 'pause', target: 'worker' },
    { type: 'dependency_error', target: 'payments', params: { pct: 50 } },
    { type: 'http_error', target: 'api', params: { status: 503, pct: 10 } },
    { type: 'route_exception', target: 'orders-1', params: { method: 'POST', path: '/orders', pct: 10 } },
  ];
  if (!skip.nftables) faults.push({ type: 'packet_loss', target: 'redis', params: { pct: 5 } });
  if (!skip.cgroup) faults.push({ type: 'cpu_quota', target: 'orders-1', params: { pct: 50 } }, { type: 'memory_limit', target: 'orders-2', params: { mb: 300 } });
  if (!skip.disk) faults.push({ type: 'disk_fill', target: 'postgres-primary', params: { free_mb: 20 } });
  if (!skip.clock) faults.push({ type: 'clock_skew', target: CLOCK_TARGET, params: { offset_s: -300 } });
  return faults;
}
