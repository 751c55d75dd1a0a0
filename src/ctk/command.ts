/**
 * What `faultline run FILE` does when FILE is a Chaos Toolkit experiment (src/cli/run.ts dispatches here):
 * validate (exit 2), check that a system runs when the file uses faultline's own actions (exit 3), run it with
 * CTK's semantics, write the journal (and, when it had load, the faultline run dir + verdict), print a summary.
 * Exit: CTK's — 0 completed and not deviated, 1 otherwise — and 1 too when a verdict says degraded/failed/
 * aborted/invalid. Ctrl-C / SIGTERM interrupt the method; the rollbacks still run before it exits.
 */
import { join, resolve } from 'node:path';
import { FaultlineError } from '../core/errors.ts';
import { isCtkFile, loadCtkExperiment } from './load.ts';

export { isCtkFile };
import { exitCodeOf, replayPendingRollbacks, runCtk } from './run.ts';
import { systemHandle } from './session.ts';
import { parseVar } from './substitute.ts';
import { HYPOTHESIS_STRATEGIES, ROLLBACK_STRATEGIES, type CtkExperiment, type HypothesisStrategy, type RollbackStrategy } from './types.ts';
import { ctkVerdict } from './verdict.ts';

export interface CtkCommandFlags {
  out?: string;
  json?: boolean;
  stateDir: string;
  journalPath?: string;
  hypothesisStrategy?: string;
  hypothesisFrequency?: string;
  failFast?: boolean;
  rollbackStrategy?: string;
  var?: string[];
}

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48);
const stamp = (): string => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');

/** Whether the experiment calls faultline.* (which needs a running system). */
function usesFaultline(exp: CtkExperiment): boolean {
  const text = JSON.stringify([exp.method, exp.rollbacks ?? [], exp['steady-state-hypothesis'] ?? {}]);
  return /"module":"faultline\./.test(text) || (exp.extensions ?? []).some((e) => e.name === 'faultline' && 'load' in e);
}

/** Plays owed rollbacks of crashed runs on this state dir; safe to call before any run. */
export async function replayOwedRollbacks(stateDir: string, quiet = false): Promise<void> {
  const replayed = await replayPendingRollbacks(resolve(stateDir), (l) => (quiet ? undefined : process.stderr.write(`${l}\n`)));
  for (const r of replayed) {
    const failed = r.rollbacks.filter((x) => x.status === 'failed').length;
    if (!quiet) process.stderr.write(`recovered run ${r.run_id}: ${r.skipped ? `rollbacks skipped (${r.skipped})` : `${r.rollbacks.length} rollback(s) played${failed ? `, ${failed} failed` : ''}`}; journal ${r.journal_path}\n`);
  }
}

/** Where the command writes (process.stdout / stderr unless a caller, e.g. a test, takes them). */
export interface CtkIo {
  out(text: string): void;
  err(text: string): void;
  /** The environment configuration's `type: env` entries read (default process.env). */
  env?: NodeJS.ProcessEnv;
}
const STD: CtkIo = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

/** Runs one CTK experiment file as `faultline run` does; returns the exit code. */
export async function runCtkCommand(file: string, f: CtkCommandFlags, io: CtkIo = STD): Promise<number> {
  const abs = resolve(file);
  const exp = loadCtkExperiment(abs);
  const bad = (flag: string, v: string, allowed: readonly string[]): never => {
    throw new FaultlineError('INVALID_INPUT', `${flag}: ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`, { field: flag });
  };
  const hs = f.hypothesisStrategy === 'continously' ? 'continuously' : f.hypothesisStrategy;
  if (hs !== undefined && !(HYPOTHESIS_STRATEGIES as readonly string[]).includes(hs)) bad('--hypothesis-strategy', hs, HYPOTHESIS_STRATEGIES);
  if (f.rollbackStrategy !== undefined && !(ROLLBACK_STRATEGIES as readonly string[]).includes(f.rollbackStrategy)) bad('--rollback-strategy', f.rollbackStrategy, ROLLBACK_STRATEGIES);
  const freq = f.hypothesisFrequency === undefined ? undefined : Number(f.hypothesisFrequency);
  if (freq !== undefined && !(freq > 0)) throw new FaultlineError('INVALID_INPUT', `--hypothesis-frequency: seconds > 0 (got ${f.hypothesisFrequency})`, { field: '--hypothesis-frequency' });
  const vars: Record<string, unknown> = {};
  for (const v of f.var ?? []) parseVar(v, vars);
  if (usesFaultline(exp) && !systemHandle(f.stateDir)) {
    throw new FaultlineError('LAB_NOT_RUNNING', `${file} uses faultline.* actions or probes, and no system runs in ${resolve(f.stateDir)}`);
  }
  const runDir = f.out ?? join('runs', `${stamp()}-${slug(exp.title)}`);
  const journalPath = resolve(f.journalPath ?? join(runDir, 'journal.json'));
  const ctrl = new AbortController();
  const onSignal = (): void => {
    if (!f.json) io.err('\ninterrupted: stopping the method, then playing the rollbacks\n');
    ctrl.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  let result;
  try {
    result = await runCtk(exp, {
      file: abs,
      stateDir: resolve(f.stateDir),
      journalPath,
      hypothesisStrategy: hs as HypothesisStrategy | undefined,
      hypothesisFrequency_s: freq,
      failFast: f.failFast,
      rollbackStrategy: f.rollbackStrategy as RollbackStrategy | undefined,
      vars,
      env: io.env,
      signal: ctrl.signal,
      log: f.json ? undefined : (l) => io.err(`${l}\n`),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
  const { journal, session, marks } = result;
  let judged;
  try {
    judged = await ctkVerdict(exp, abs, journal, session, marks, runDir);
  } catch (err) {
    // The journal stands on its own; a verdict that cannot be built is said, not fatal.
    io.err(`faultline verdict not written: ${(err as Error).message}\n`);
  }
  const verdictBad = judged !== undefined && ['degraded', 'failed', 'aborted', 'invalid'].includes(judged.verdict.result);
  const code = exitCodeOf(journal) === 1 || verdictBad ? 1 : 0;
  if (f.json) {
    io.out(`${JSON.stringify({ status: journal.status, deviated: journal.deviated, journal: journalPath, run: journal.run.length, rollbacks: journal.rollbacks.length, verdict: judged ? { ...judged.verdict, dir: judged.dir } : null, exit: code }, null, 2)}\n`);
  } else {
    const lines = [`${exp.title}: ${journal.status}${journal.deviated ? ' (deviated)' : ''}`, `  journal: ${journalPath}`];
    lines.push(`  activities: ${journal.run.map((r) => `${r.activity.name} ${r.status}`).join(', ') || 'none'}`);
    if (journal.rollbacks.length) lines.push(`  rollbacks: ${journal.rollbacks.map((r) => `${r.activity.name} ${r.status}`).join(', ')}`);
    if (judged) lines.push(`  faultline verdict: ${judged.verdict.result.toUpperCase()}${judged.verdict.reasons.length ? ` — ${judged.verdict.reasons.join('; ')}` : ''}`, `  run dir: ${judged.dir}`);
    io.out(`${lines.join('\n')}\n`);
  }
  return code;
}
