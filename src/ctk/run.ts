/**
 * Runs a Chaos Toolkit experiment with chaoslib's semantics (reference sheet A2–A6) and writes its journal.
 * This module alone owns the run's order and the guarantee that rollbacks are played:
 *
 *   configuration + secrets ─▶ hypothesis before ─▶ [crash file] ─▶ method (pauses, background, refs;
 *        │                       (not met: method skipped)           hypothesis during, every frequency s)
 *        │                                                         ─▶ hypothesis after (not met: deviated)
 *        └──────────────────────────────────────────────────────────▶ rollbacks (always, unless the strategy
 *                                                                     says never / deviated) ─▶ journal.json
 *
 * Rollbacks are played after a deviation, a failed method, Ctrl-C (the AbortSignal) and — from the crash file
 * pending.ts keeps in the state dir — after faultline itself died (replayPendingRollbacks, at the next run).
 */
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { VERSION } from '../core/version.ts';
import { namedActivities, resolveRef, validateCtk } from './load.ts';
import { orphanedPending, removePending, writePending } from './pending.ts';
import { runHttp, runProcess } from './providers.ts';
import { pythonFunction } from './python.ts';
import { CtkSession, systemHandle, type AppliedFault } from './session.ts';
import { loadConfiguration, loadSecrets, substitute, type Configuration, type Secrets } from './substitute.ts';
import { withinTolerance } from './tolerance.ts';
import {
  ActivityFailed,
  ctkTime,
  type Activity,
  type ActivityRun,
  type CtkExperiment,
  type HttpProvider,
  type HypothesisStrategy,
  type Journal,
  type JournalStatus,
  type ProcessProvider,
  type PythonProvider,
  type Ref,
  type RollbackStrategy,
  type SteadyState,
} from './types.ts';

export interface CtkRunOptions {
  /** Absolute path of the experiment file (relative paths in it resolve against its folder). */
  file: string;
  stateDir: string;
  journalPath: string;
  /** CLI overrides of the experiment's runtime block (sheet A7: settings < runtime < CLI). */
  hypothesisStrategy?: HypothesisStrategy;
  /** Seconds between two hypothesis runs during the method. Default 1 (CTK's). */
  hypothesisFrequency_s?: number;
  failFast?: boolean;
  rollbackStrategy?: RollbackStrategy;
  /** `--var` values (configuration only). */
  vars?: Record<string, unknown>;
  /** The environment `type: env` entries read and processes get. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Abort = Ctrl-C / SIGTERM: the current activity ends, status interrupted, rollbacks still run. */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface CtkRunResult {
  journal: Journal;
  /** CTK's: 0 completed and not deviated, 1 otherwise. */
  exitCode: 0 | 1;
  session: CtkSession;
  marks: { method_start?: number; method_end?: number };
}

/**
 * `extensions: [{name: faultline, load: {rate, path | mix, seed?, timeout_ms?, warmup_s?}}]`: open-model load for
 * the whole run, started before the first hypothesis (so `faultline.probes.sli` has data from the start) and
 * stopped after the rollbacks. `warmup_s` (default 2) passes before the hypothesis runs.
 */
async function startExtensionLoad(exp: CtkExperiment, ctx: Ctx): Promise<void> {
  const ext = (exp.extensions ?? []).find((e) => e.name === 'faultline') as { load?: Record<string, unknown> } | undefined;
  if (!ext?.load) return;
  const { warmup_s, ...args } = substitute(ext.load, ctx.config, ctx.secrets);
  const fn = pythonFunction('faultline.actions', 'start_load')!;
  await fn.run({ duration_s: 3600, ...args }, { session: ctx.session, config: ctx.config, signal: ctx.signal });
  ctx.log(`load: ${String(args.rate)} req/s for the whole run`);
  await sleep((warmup_s === undefined ? 2 : Number(warmup_s)) * 1000, ctx.signal);
}

/** Resolves at `ms` from now or when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

interface Ctx {
  exp: CtkExperiment;
  named: Map<string, Activity>;
  config: Configuration;
  secrets: Secrets;
  session: CtkSession;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  log: (line: string) => void;
}

/** Runs a provider (substituted first) and returns its output; throws ActivityFailed when it fails. */
async function runProvider(activity: Activity, ctx: Ctx): Promise<unknown> {
  const p = substitute(activity.provider, ctx.config, ctx.secrets);
  switch (p.type) {
    case 'http':
      return runHttp(p as HttpProvider, ctx.signal);
    case 'process':
      return runProcess(p as ProcessProvider, { signal: ctx.signal, env: ctx.env, cwd: process.cwd() });
    case 'python': {
      const py = p as PythonProvider;
      const fn = pythonFunction(py.module, py.func);
      if (!fn) throw new ActivityFailed(`python provider ${py.module}.${py.func} is not supported`);
      return fn.run(py.arguments ?? {}, { session: ctx.session, config: ctx.config, signal: ctx.signal });
    }
    default:
      throw new ActivityFailed(`unknown provider type ${(p as { type: string }).type}`);
  }
}

const pauseMs = (v: unknown, ctx: Ctx): number => {
  const s = substitute(v, ctx.config, ctx.secrets);
  const n = Number(s);
  return Number.isFinite(n) && n > 0 ? n * 1000 : 0;
};

/** One activity with its pauses, as a journal entry (never throws: a failure is recorded). */
async function executeActivity(activity: Activity, ctx: Ctx): Promise<ActivityRun> {
  if (activity.pauses?.before !== undefined) await sleep(pauseMs(activity.pauses.before, ctx), ctx.signal);
  const t0 = Date.now();
  const run: ActivityRun = { activity, output: null, start: ctkTime(t0), end: '', duration: 0, status: 'succeeded' };
  ctx.log(`${activity.type} ${activity.name}`);
  try {
    if (ctx.signal?.aborted) throw new ActivityFailed('interrupted');
    run.output = await runProvider(activity, ctx);
    if (activity.provider.type === 'process' && (run.output as { status?: number }).status !== 0) {
      ctx.log(`  process exited with ${(run.output as { status: number }).status} (a result, not a failure, as in CTK)`);
    }
  } catch (err) {
    run.status = 'failed';
    const e = err as Error;
    run.exception = [`${e instanceof ActivityFailed ? 'chaoslib.exceptions.ActivityFailed' : e.name}: ${e.message}\n`];
    ctx.log(`  failed: ${e.message}`);
  }
  const t1 = Date.now();
  run.end = ctkTime(t1);
  run.duration = (t1 - t0) / 1000;
  if (activity.pauses?.after !== undefined) await sleep(pauseMs(activity.pauses.after, ctx), ctx.signal);
  return run;
}

/** The hypothesis once: probes in order, the first that fails or misses its tolerance ends it (sheet A2). */
async function runHypothesis(ctx: Ctx): Promise<SteadyState | null> {
  const ssh = ctx.exp['steady-state-hypothesis'];
  if (!ssh || !ssh.probes || ssh.probes.length === 0) return null;
  const state: SteadyState = { steady_state_met: null, probes: [] };
  for (const item of ssh.probes) {
    const activity = resolveRef(item, ctx.named)!;
    const run = await executeActivity(activity, ctx);
    state.probes.push(run);
    if (run.status === 'failed') {
      run.tolerance_met = false;
      state.steady_state_met = false;
      return state;
    }
    const met = await withinTolerance(activity.tolerance, run.output, {
      config: ctx.config,
      secrets: ctx.secrets,
      runProbe: async (probe) => {
        const r = await executeActivity(probe, ctx);
        if (r.status === 'failed') throw new ActivityFailed(r.exception?.[0] ?? 'failed');
        return r.output;
      },
    }).catch((err: Error) => {
      ctx.log(`  tolerance could not be checked: ${err.message}`);
      return false;
    });
    run.tolerance_met = met;
    if (!met) {
      ctx.log(`  tolerance not met: ${activity.name}`);
      state.steady_state_met = false;
      return state;
    }
  }
  state.steady_state_met = true;
  return state;
}

const errored = (s: SteadyState | null): boolean => s !== null && s.probes.some((p) => p.status === 'failed');

/** Plays a list of activities in order; background ones run alongside and are awaited at the end. */
async function playList(list: (Activity | Ref)[], ctx: Ctx, stop: () => boolean, onRun: (r: ActivityRun) => void): Promise<ActivityRun[]> {
  const slots: (ActivityRun | Promise<ActivityRun>)[] = [];
  for (const item of list) {
    if (stop()) break;
    const activity = resolveRef(item, ctx.named)!;
    if (activity.background) {
      slots.push(executeActivity(activity, ctx).then((r) => (onRun(r), r)));
    } else {
      const r = await executeActivity(activity, ctx);
      onRun(r);
      slots.push(r);
    }
  }
  return Promise.all(slots);
}

const strategyOf = (s: string | undefined): HypothesisStrategy | undefined => (s === 'continously' ? 'continuously' : (s as HypothesisStrategy | undefined));

/** Whether the rollbacks are played, faultline's way: `default` plays them whatever the status (see docs). */
export function shouldRollback(strategy: RollbackStrategy, journal: Pick<Journal, 'deviated' | 'status'>): boolean {
  if (strategy === 'never') return false;
  if (strategy === 'deviated') return journal.deviated;
  return true;
}

function newJournal(exp: CtkExperiment, t0: number): Journal {
  return {
    'chaoslib-version': `faultline ${VERSION}`,
    platform: `${process.platform} ${process.arch} node ${process.version}`,
    node: hostname(),
    experiment: exp,
    start: ctkTime(t0),
    end: null,
    duration: null,
    status: null,
    deviated: false,
    steady_states: { before: null, after: null, during: [] },
    run: [],
    rollbacks: [],
  };
}

export function writeJournal(path: string, journal: Journal): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(journal, null, 2)}\n`);
}

/** CTK's exit code for a journal: 0 when completed and not deviated, else 1. */
export const exitCodeOf = (j: Pick<Journal, 'status' | 'deviated'>): 0 | 1 => (j.status === 'completed' && !j.deviated ? 0 : 1);

/**
 * Runs a validated experiment and writes its journal to opts.journalPath.
 * @example const { journal, exitCode } = await runCtk(loadCtkExperiment(f), { file: f, stateDir: '.faultline', journalPath: 'journal.json' });
 */
export async function runCtk(exp: CtkExperiment, opts: CtkRunOptions): Promise<CtkRunResult> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const journal = newJournal(exp, t0);
  const vars = opts.vars ?? {};
  const config = loadConfiguration(exp.configuration, env, vars);
  const secrets = loadSecrets(exp.secrets, env);
  exp.title = substitute(exp.title, config, secrets);
  const session = new CtkSession(systemHandle(opts.stateDir), dirname(opts.file), opts.stateDir);
  const ctx: Ctx = { exp, named: namedActivities(exp), config, secrets, session, env, signal: opts.signal, log };
  const strategy: HypothesisStrategy = opts.hypothesisStrategy ?? strategyOf(exp.runtime?.hypothesis?.strategy) ?? 'default';
  const rollbackStrategy: RollbackStrategy = opts.rollbackStrategy ?? exp.runtime?.rollbacks?.strategy ?? 'default';
  const frequencyMs = (opts.hypothesisFrequency_s ?? exp.runtime?.hypothesis?.frequency ?? 1) * 1000;
  const failFast = opts.failFast ?? exp.runtime?.hypothesis?.fail_fast ?? false;
  const withSsh = (exp['steady-state-hypothesis']?.probes?.length ?? 0) > 0;
  const before = strategy === 'default' || strategy === 'before-method-only' || strategy === 'continuously';
  const after = strategy === 'default' || strategy === 'after-method-only' || strategy === 'continuously';
  const during = strategy === 'during-method-only' || strategy === 'continuously';
  const runId = `${new Date(t0).toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const marks: CtkRunResult['marks'] = {};
  const interrupted = (): boolean => opts.signal?.aborted === true;
  const persist = (): void => {
    try {
      writePending(opts.stateDir, { run_id: runId, file: opts.file, journal_path: opts.journalPath, rollback_strategy: rollbackStrategy, system: session.system?.name ?? null, vars, journal, applied: session.applied });
    } catch (err) {
      session.notes.push(`crash file not written: ${(err as Error).message}`);
    }
  };
  log(`experiment: ${exp.title} (hypothesis ${strategy}, rollbacks ${rollbackStrategy}${session.system ? `, system ${session.system.name}` : ', no faultline system running'})`);

  try {
    await startExtensionLoad(exp, ctx);
    let gate = true;
    if (withSsh && before) {
      log('steady-state hypothesis (before)');
      const s = await runHypothesis(ctx);
      journal.steady_states.before = s;
      if (interrupted()) journal.status = 'interrupted';
      else if (s && !s.steady_state_met) {
        // CTK: the method is skipped, nothing deviated; failed only when a probe errored (sheet A6).
        gate = false;
        journal.status = errored(s) ? 'failed' : 'completed';
        log('steady state not met before the method: method skipped');
      }
    }
    if (gate && journal.status === null) {
      persist();
      session.onChange = persist;
      marks.method_start = Date.now();
      let methodDone = false;
      let wake: () => void = () => {};
      const continuous = withSsh && during
        ? (async () => {
            while (!methodDone && !interrupted() && journal.status === null) {
              const s = await runHypothesis(ctx);
              if (s) journal.steady_states.during.push(s);
              if (s && !s.steady_state_met && failFast) {
                journal.status = 'failed';
                log('fail-fast: the steady state deviated during the method');
                break;
              }
              await new Promise<void>((r) => {
                wake = r;
                sleep(frequencyMs, opts.signal).then(r);
              });
            }
          })()
        : Promise.resolve();
      try {
        await playList(exp.method, ctx, () => interrupted() || journal.status !== null, (r) => {
          journal.run.push(r);
          persist();
        });
      } catch (err) {
        journal.status = 'aborted';
        session.notes.push(`method aborted: ${(err as Error).message}`);
      }
      methodDone = true;
      wake();
      await continuous;
      marks.method_end = Date.now();
      if (interrupted()) journal.status = 'interrupted';
      if (journal.status !== 'interrupted' && journal.status !== 'aborted' && withSsh && after) {
        log('steady-state hypothesis (after)');
        const s = await runHypothesis(ctx);
        journal.steady_states.after = s;
        if (interrupted()) journal.status = 'interrupted';
        else if (s) {
          if (!s.steady_state_met) journal.deviated = true;
          journal.status = errored(s) ? 'failed' : 'completed';
        }
      }
    }
  } catch (err) {
    journal.status = 'aborted';
    session.notes.push(`aborted: ${(err as Error).message}`);
  } finally {
    journal.status ??= 'completed';
    // Rollbacks run even after Ctrl-C: their own signal is a fresh one (a second Ctrl-C is the caller's to handle).
    if (shouldRollback(rollbackStrategy, journal) && (exp.rollbacks?.length ?? 0) > 0) {
      log('rollbacks');
      const rctx: Ctx = { ...ctx, signal: undefined };
      journal.rollbacks = await playList(exp.rollbacks ?? [], rctx, () => false, () => {});
    }
    await session.stopLoad();
    session.onChange = undefined;
    const t1 = Date.now();
    journal.end = ctkTime(t1);
    journal.duration = (t1 - t0) / 1000;
    journal.faultline = {
      run_id: runId,
      hypothesis_strategy: strategy,
      rollback_strategy: rollbackStrategy,
      system: session.system?.name ?? null,
      applied: session.applied,
      notes: session.notes,
    };
    // The rollbacks have run (or the strategy said not to): nothing is owed any more, even if the journal cannot be written.
    removePending(opts.stateDir, runId);
    writeJournal(opts.journalPath, journal);
  }
  log(`status ${journal.status}${journal.deviated ? ', deviated' : ''} · journal ${opts.journalPath}`);
  return { journal, exitCode: exitCodeOf(journal), session, marks };
}

export interface Replayed {
  run_id: string;
  journal_path: string;
  rollbacks: ActivityRun[];
  skipped?: string;
}

/**
 * Plays the rollbacks of every run on `stateDir` whose faultline process died mid-way (its crash file is still
 * there and its pid is gone), then rewrites that run's journal with them: status `aborted` (the run never
 * finished), `faultline.recovered` saying when and by whom. Called by `faultline run` before anything else.
 */
export async function replayPendingRollbacks(stateDir: string, log: (line: string) => void = () => {}, env: NodeJS.ProcessEnv = process.env): Promise<Replayed[]> {
  const out: Replayed[] = [];
  const system = orphanedPending(stateDir).length > 0 ? systemHandle(stateDir) : undefined;
  for (const { pending } of orphanedPending(stateDir)) {
    // Rollbacks of a run that acted on a system wait until a system runs there again (they act on it).
    if (pending.system && !system) {
      log(`the rollbacks of run ${pending.run_id} wait for a running system in ${stateDir} (they act on ${pending.system})`);
      continue;
    }
    const journal = pending.journal;
    journal.status ??= 'aborted';
    const result: Replayed = { run_id: pending.run_id, journal_path: pending.journal_path, rollbacks: [] };
    let exp: CtkExperiment;
    try {
      exp = validateCtk(structuredClone(journal.experiment));
    } catch (err) {
      result.skipped = `the experiment in the crash file no longer validates: ${(err as Error).message}`;
      out.push(result);
      removePending(stateDir, pending.run_id);
      continue;
    }
    if (!shouldRollback(pending.rollback_strategy, journal)) {
      result.skipped = `rollback strategy ${pending.rollback_strategy}`;
    } else {
      log(`replaying the rollbacks of ${exp.title} (run ${pending.run_id}; its faultline process died at pid ${pending.pid})`);
      let config: Configuration = {};
      let secrets: Secrets = {};
      try {
        config = loadConfiguration(exp.configuration, env, pending.vars);
        secrets = loadSecrets(exp.secrets, env);
      } catch (err) {
        log(`  configuration: ${(err as Error).message}`);
      }
      const session = new CtkSession(system, dirname(pending.file), stateDir);
      for (const f of pending.applied as AppliedFault[]) session.applied.push(f);
      const ctx: Ctx = { exp, named: namedActivities(exp), config, secrets, session, env, log };
      result.rollbacks = await playList(exp.rollbacks ?? [], ctx, () => false, () => {});
      journal.rollbacks = result.rollbacks;
    }
    const now = Date.now();
    journal.end ??= ctkTime(now);
    journal.duration ??= (now - Date.parse(`${journal.start}Z`)) / 1000;
    journal.faultline = {
      run_id: pending.run_id,
      rollback_strategy: pending.rollback_strategy,
      applied: pending.applied,
      ...(journal.faultline ?? {}),
      recovered: { at: ctkTime(now), by_pid: process.pid, crashed_pid: pending.pid, rollbacks_played: result.rollbacks.length, skipped: result.skipped ?? null },
    };
    try {
      writeJournal(pending.journal_path, journal);
    } catch (err) {
      log(`  journal ${pending.journal_path} not written: ${(err as Error).message}`);
    }
    removePending(stateDir, pending.run_id);
    out.push(result);
  }
  return out;
}

export type { JournalStatus };
