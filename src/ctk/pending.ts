/**
 * Rollbacks that must run even if faultline itself dies mid-method. Before the method starts the runner writes
 * `<state-dir>/ctk/pending-<run>.json` (the experiment, the journal so far, the faults applied so far, whose
 * process owns it); it is rewritten after every activity and removed once the rollbacks have run. The next
 * `faultline run` on that state dir finds files whose owner is dead and plays their rollbacks (the strategy
 * permitting), then writes the crashed run's journal with them (status `aborted`, `faultline.recovered`).
 * No secret value is written: secrets are resolved again from the experiment (inline / env) when replayed.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readJson, writeJson } from '../core/json-file.ts';
import { processStartTicks } from '../core/process.ts';
import type { AppliedFault } from './session.ts';
import type { Journal, RollbackStrategy } from './types.ts';

export interface PendingFile {
  faultline_ctk_pending: 1;
  run_id: string;
  pid: number;
  start_ticks: number | null;
  file: string;
  journal_path: string;
  rollback_strategy: RollbackStrategy;
  /** The system the run acted on (null: none was running); its rollbacks wait until one runs again. */
  system: string | null;
  vars: Record<string, unknown>;
  journal: Journal;
  applied: AppliedFault[];
  written_at: string;
}

export const pendingDir = (stateDir: string): string => join(stateDir, 'ctk');

export function pendingPath(stateDir: string, runId: string): string {
  return join(pendingDir(stateDir), `pending-${runId}.json`);
}

/** Writes (atomically) the pending record of a run in progress. */
export function writePending(stateDir: string, p: Omit<PendingFile, 'faultline_ctk_pending' | 'pid' | 'start_ticks' | 'written_at'>): void {
  const file = pendingPath(stateDir, p.run_id);
  mkdirSync(dirname(file), { recursive: true });
  writeJson(file, { faultline_ctk_pending: 1, pid: process.pid, start_ticks: processStartTicks(process.pid), written_at: new Date().toISOString(), ...p } satisfies PendingFile, 0o600);
}

export function removePending(stateDir: string, runId: string): void {
  rmSync(pendingPath(stateDir, runId), { force: true });
}

/** Pending records whose owner process is gone (a crash, a SIGKILL): their rollbacks are owed. */
export function orphanedPending(stateDir: string): { path: string; pending: PendingFile }[] {
  let names: string[];
  try {
    names = readdirSync(pendingDir(stateDir)).filter((n) => /^pending-.*\.json$/.test(n));
  } catch {
    return [];
  }
  const out: { path: string; pending: PendingFile }[] = [];
  for (const n of names) {
    const path = join(pendingDir(stateDir), n);
    const p = readJson<PendingFile>(path);
    if (!p || p.faultline_ctk_pending !== 1) continue;
    const ticks = processStartTicks(p.pid);
    const alive = ticks !== null && (p.start_ticks === null || p.start_ticks === ticks);
    if (!alive) out.push({ path, pending: p });
  }
  return out;
}
