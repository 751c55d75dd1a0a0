/**
 * The run directory: what a run leaves behind and how it is read back. This module alone owns the file names
 * and their formats; report plugins get a loaded `RunRecord` + `Verdict` and never touch the directory layout.
 *
 *   <run>/experiment.yaml     the experiment file as run (verbatim)
 *   <run>/run.json            resolved experiment, marks, fault events, mitigations, load summary, timeline
 *   <run>/series.jsonl        every series collected (SeriesStore.toJsonl)
 *   <run>/requests.jsonl      every request the users sent, with outcome and latency (RequestLog.toJsonl)
 *   <run>/fault-events.jsonl  the controller's start/stop annotations for this run's faults
 *   <run>/verdict.json        the verdict with its numbers and reasons
 *   <run>/<report files>      one per report plugin (journal.json, report.md, report.html, junit.xml)
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultlineError } from '../core/errors.ts';
import type { LoadSummary } from '../load/samples.ts';
import { RequestLog } from '../metrics/requests.ts';
import { SeriesStore } from '../metrics/store.ts';
import { computeVerdict, timeline, type Marks, type Tick, type Verdict } from './evaluate.ts';
import { REPORTS } from './reports/index.ts';
import type { Experiment } from './schema.ts';
import { withResolved } from './preflight.ts';
import type { CpuAccount } from './cpu-account.ts';
import type { StateChanges } from './state-changes.ts';

/** The seed's fault_event, plus what the controller said about it. Times are unix seconds. */
export interface FaultEventRecord {
  id: string;
  name?: string;
  fault_type: string;
  target: string;
  params: Record<string, unknown>;
  mechanism: string;
  t_start: number;
  t_stop?: number;
  t_planned_stop: number;
  /** What the fault did while it was on, as the controller read it at the revert (e.g. {"oom_kills": 1}). */
  observed?: Record<string, number>;
}

export interface RunRecord {
  faultline_run: 1;
  experiment: Experiment;
  experiment_text: string;
  started_at: string;
  ended_at: string;
  marks: Marks;
  fault_events: FaultEventRecord[];
  mitigations: { requested: Record<string, unknown>; applied: string };
  notes: string[];
  load_summary: LoadSummary | null;
  /** Where it ran: the state dir, the base port, the system (older run records have neither system field). */
  lab: { base_port: number | null; state_dir: string; system?: string; system_file?: string | null };
  timeline: Tick[];
  /** When the system's state gauges changed (server_metrics.states) and, under a supervisor, each instance's process lifecycle; absent in older run records. */
  state_changes?: StateChanges;
  /** Where the CPU went in each phase, when a supervisor ran the system; absent in older run records. */
  cpu?: CpuAccount;
}

/**
 * Writes the whole run dir (data files, then every report plugin's file).
 * @example writeRun('runs/2026-…-payments', record, verdict, store, controllerEventsText)
 */
export function writeRun(dir: string, record: RunRecord, verdict: Verdict, store: SeriesStore, faultEvents: string, requests?: RequestLog): void {
  mkdirSync(dir, { recursive: true });
  if (requests) writeFileSync(join(dir, 'requests.jsonl'), requests.toJsonl());
  writeFileSync(join(dir, 'experiment.yaml'), record.experiment_text);
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify(record, null, 2)}\n`);
  writeFileSync(join(dir, 'series.jsonl'), store.toJsonl());
  writeFileSync(join(dir, 'fault-events.jsonl'), faultEvents);
  writeFileSync(join(dir, 'verdict.json'), `${JSON.stringify(verdict, null, 2)}\n`);
  writeReports(dir, record, verdict);
}

/** (Re)generates every report plugin's file from a loaded run; returns the files written. */
export function writeReports(dir: string, record: RunRecord, verdict: Verdict): string[] {
  const written: string[] = [];
  for (const report of REPORTS) {
    writeFileSync(join(dir, report.file), report.render(record, verdict));
    written.push(report.file);
  }
  return written;
}

/**
 * Reads a run dir back (for `faultline report` and re-judging).
 * @example const { record, verdict } = readRun('runs/x');
 */
export function readRun(dir: string): { record: RunRecord; verdict: Verdict; store: () => SeriesStore; requests: () => RequestLog | undefined } {
  const read = (name: string): string => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch {
      throw new FaultlineError('INVALID_INPUT', `${dir} is not a run directory (no ${name})`, { field: 'RUN_DIR', hint: 'pass the directory `faultline run --out` wrote' });
    }
  };
  const record = JSON.parse(read('run.json')) as RunRecord;
  const verdict = JSON.parse(read('verdict.json')) as Verdict;
  const requests = (): RequestLog | undefined => (existsSync(join(dir, 'requests.jsonl')) ? RequestLog.fromJsonl(readFileSync(join(dir, 'requests.jsonl'), 'utf8')) : undefined);
  return { record, verdict, store: () => SeriesStore.fromJsonl(read('series.jsonl')), requests };
}

/**
 * Judges a finished run again with another experiment's hypothesis (SLIs, thresholds, windows of evaluation) over
 * the SAME stored series and marks: how a stricter or more lenient hypothesis would have fared on identical data.
 * Integrity and stop condition results are the run's own (they are facts of the run, not of the hypothesis).
 * @example rejudge('runs/x', loadExperiment('strict.yaml')).verdict.result // 'degraded'
 */
export function rejudge(dir: string, fromFile: Experiment): { record: RunRecord; verdict: Verdict; store: SeriesStore; requests: RequestLog | undefined } {
  const old = readRun(dir);
  const experiment = withResolved(fromFile, old.record.experiment.resolved);
  const store = old.store();
  const requests = old.requests();
  const { marks } = old.record;
  const f0 = marks.first_inject ?? marks.fault_start;
  const stop = old.verdict.stop.tripped ? { condition: old.verdict.stop.condition ?? 'stop condition', at: f0 + (old.verdict.stop.at_s ?? 0) * 1000 } : undefined;
  // The generator's own verdict on the run (unmeasurable) is a fact of the run, like integrity.
  const invalid = old.record.load_summary && !old.record.load_summary.valid ? [`load generator: ${old.record.load_summary.invalid_reasons.join('; ')}`] : [];
  const verdict = computeVerdict({ experiment, store, requests, marks, faults: old.record.fault_events, stop, integrity: old.verdict.integrity, invalid });
  const floors = [marks.baseline_start, marks.fault_start, marks.first_inject, marks.last_revert].filter((x): x is number => x !== undefined);
  const record: RunRecord = {
    ...old.record,
    experiment,
    experiment_text: readFileSync(experiment.source, 'utf8'),
    notes: [...old.record.notes, `re-judged from ${dir} with ${experiment.source}`],
    timeline: timeline({ store, requests }, experiment, marks.start, new Date(old.record.ended_at).getTime(), floors),
  };
  return { record, verdict, store, requests };
}
