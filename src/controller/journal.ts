/**
 * The fault journal: one JSON line per state change of a fault, flushed to disk (fsync) *before* the change is
 * carried out, so a controller that restarts after a crash knows every fault that may be in effect and can
 * revert it. Reading folds the lines by id (the last line of a fault is its state).
 *
 *   inject: append {phase: pending} ─fsync─▶ apply ─▶ append {phase: injected, handle}
 *   revert: revert ─▶ verify ─▶ append {phase: reverted} (or keep injected + error, retried)
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export type FaultPhase = 'pending' | 'injected' | 'reverted' | 'failed';

export interface FaultRecord {
  id: string;
  type: string;
  target: string;
  params: Record<string, unknown>;
  ttl_s: number;
  /** Unix seconds (wall clock, ms precision) when the fault was applied, or when applying started. */
  t_start: number;
  t_stop?: number;
  /** Unix seconds when the TTL runs out. */
  expires_at: number;
  phase: FaultPhase;
  mechanism: string;
  /** What the injector needs to revert and verify it (plain JSON). */
  handle?: unknown;
  /** The last error applying or reverting it. */
  error?: string;
  /** After a revert: did a probe confirm the fault is gone? */
  verified?: boolean;
  /** Who reverted it: the controller (revert, TTL, halt, reconcile) or the watchdog after the controller died. */
  reverted_by?: 'controller' | 'watchdog';
  /** What the fault did while it was on (the injector's observe, read just before the revert). */
  observed?: Record<string, number>;
  /** Seconds from its revert until users' SLIs were back in steady state, as the runner observed it. */
  mttr_s?: number | null;
  /** Where that figure comes from (e.g. "users' SLIs of <run>, precision ±0.01 s"). */
  mttr_source?: string;
}

/** Every fault a journal file knows, by id, folded to its last line; read-only (nothing is compacted or opened). */
export function readJournal(file: string): Map<string, FaultRecord> {
  const records = new Map<string, FaultRecord>();
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return records;
  }
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const record = JSON.parse(line) as FaultRecord;
      records.set(record.id, record);
    } catch {
      // A torn last line (crash mid-write) is skipped; everything before it stands.
    }
  }
  return records;
}

export class Journal {
  readonly #fd: number;

  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.#compact();
    this.#fd = openSync(file, 'a');
  }

  /** Every fault the journal knows, by id, in the order they were first written. */
  read(): Map<string, FaultRecord> {
    return readJournal(this.file);
  }

  /** Appends a record and waits for it to reach the disk. */
  write(record: FaultRecord): void {
    writeSync(this.#fd, `${JSON.stringify(record)}\n`);
    fsyncSync(this.#fd);
  }

  close(): void {
    closeSync(this.#fd);
  }

  /** Rewrites the file with one line per fault, keeping every unfinished fault and the last 500 finished ones. */
  #compact(): void {
    const records = [...this.read().values()];
    if (records.length === 0) return;
    const open = records.filter((r) => r.phase === 'pending' || r.phase === 'injected');
    const done = records.filter((r) => r.phase === 'reverted' || r.phase === 'failed').slice(-500);
    const keep = [...done, ...open].sort((a, b) => a.t_start - b.t_start);
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    writeSync(fd, keep.map((r) => `${JSON.stringify(r)}\n`).join(''));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.file);
  }
}
