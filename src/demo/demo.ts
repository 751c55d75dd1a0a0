/**
 * `faultline demo`, the main job, as a library: setup if needed → a lab of its own → a breakpoint ramp →
 * the steady rate → every planned (experiment, variant) run through the hypothesis runner → one report → lab down.
 * This module alone owns that sequence and its guarantee: whatever happens (an error, Ctrl-C through `signal`),
 * every fault is reverted (the runner does it for its own; `stopLab` reverts anything the journal still holds)
 * and the lab it started is stopped.
 *
 *   setup.sh? ─▶ startDetached(lab) ─▶ findBreakpoint ─▶ rate ─▶ for run in plan: runExperiment ─▶ writeDemoReport
 *                        └────────────────────────── finally: stopLab ◀──────────────────────────────┘
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { FaultlineError } from '../core/errors.ts';
import { findBreakpoint, type BreakpointResult } from '../load/breakpoint.ts';
import type { Verdict } from '../runner/evaluate.ts';
import { applyMitigations } from '../runner/mitigations.ts';
import { readRun } from '../runner/record.ts';
import { runExperiment, type Progress } from '../runner/run.ts';
import { stopLab } from '../supervisor/control.ts';
import { startDetached } from '../supervisor/daemon.ts';
import { isPortFree } from '../supervisor/health.ts';
import { missingLabPrerequisites } from '../supervisor/launch.ts';
import { runTarget } from '../supervisor/run-target.ts';
import { labSystem } from '../supervisor/topology.ts';
import { systemPorts } from '../system/system.ts';
import { DEFAULT_SLO, deriveExperiment, loadPlan, plannedRuns, steadyRate, type DemoPlan, type SteadyRate } from './plan.ts';
import { limitingLeg, lowestBasis, rampLogLine, rampMitigationsText, rampStep, rampStopText, rampSummary, steadyText, type RanLeg } from './ramp.ts';
import { recoveryRanking } from './recovery.ts';
import { settle, type SettleResult } from './settle.ts';
import { runFigures, runServices, writeDemoReport, type DemoRun, type DemoSummary } from './report.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

export interface DemoOptions {
  /** The plan file (experiments/demo-schedule.yaml; `--all`: experiments/demo-all-schedule.yaml; see demoPlanFile). */
  planFile: string;
  /** The demo's own lab state dir (never the user's default lab). */
  stateDir: string;
  /** Where the report and every run dir go (created). */
  outDir: string;
  /** Base port; default: the first free range found from 27000 upward. */
  basePort?: number;
  /** Skip the breakpoint ramp and use this rate. */
  rateRps?: number;
  /** Do not run scripts/setup.sh even if something is missing (tests). */
  skipSetup?: boolean;
  /** Ctrl-C: the current run reverts its faults, no further run starts, the lab stops. */
  signal?: AbortSignal;
  /** One line per phase (stderr in the CLI). */
  log: (line: string) => void;
}

/**
 * Runs the whole demo and returns its summary (also written as summary.json beside report.md / report.html).
 * @example
 *   const s = await runDemo({ planFile: 'experiments/demo-schedule.yaml', stateDir: '.faultline/demo-lab',
 *                             outDir: 'runs/demo', log: (l) => process.stderr.write(`${l}\n`) });
 *   s.report.markdown // 'runs/demo/report.md'
 */
export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const t0 = Date.now();
  const plan = loadPlan(opts.planFile);
  const runs = plannedRuns(plan);
  const log = (line: string): void => opts.log(`[demo ${clock(t0)}] ${line}`);
  if (!opts.skipSetup) await ensureSetup(log);
  const missing = missingLabPrerequisites();
  if (missing.length > 0) throw new FaultlineError('CAPABILITY_MISSING', `the lab needs: ${missing.join('; ')}`, { hint: 'bash scripts/setup.sh' });

  mkdirSync(opts.outDir, { recursive: true });
  // A previous demo killed hard may have left its lab behind: this state dir is the demo's own, so stop it.
  await stopLab(opts.stateDir).catch(() => undefined);
  const base = opts.basePort ?? (await freeBasePort());
  log(`starting the lab (state ${relative(process.cwd(), opts.stateDir) || opts.stateDir}, ports ${base}+, naive: mitigations none)`);
  // Fresh idempotency keys for every run, and for every demo on the same lab data (see deriveExperiment).
  const seedBase = Math.floor(t0 / 1000) % 0xffff_0000;
  const done: DemoRun[] = [];
  let probes = 0;
  const probeSeed = (): number => seedBase + 2000 + probes++;
  let breakpoint: DemoSummary['breakpoint'] = null;
  let rate = opts.rateRps ?? plan.rate.fixed_rps;
  let interrupted = false;
  try {
    const status = await startDetached({ stateDir: opts.stateDir, basePort: base, mitigations: 'none', log: () => {} });
    log(`lab up in ${((status.ready_ms ?? 0) / 1000).toFixed(1)} s`);
    if (rate === undefined && plan.rate.breakpoint && !opts.signal?.aborted) {
      const { fraction } = plan.rate.breakpoint;
      const steadyOf = (r: BreakpointResult): SteadyRate => steadyRate(r, fraction, plan.rate.min_rps);
      const legs = await rampBreakpoint(plan, opts.stateDir, seedBase + 1000, steadyOf, log, opts.signal);
      const limiting = limitingLeg(legs, steadyOf);
      const steady = steadyOf(limiting.result);
      breakpoint = rampSummary(legs, fraction, plan.rate.min_rps, steady, limiting);
      if (legs.length > 1) log(`ramp: the breakpoint is the lowest of ${legs.length} legs, ${rampMitigationsText(limiting)}`);
      rate = steady.rate_rps;
      log(`ramp stopped: ${rampStopText(breakpoint)}`);
      log(`steady rate ${steadyText(breakpoint, rate)}`);
    }
    rate ??= plan.rate.min_rps;
    for (const [i, run] of runs.entries()) {
      if (opts.signal?.aborted) break;
      const exp = deriveExperiment(plan, run, rate, seedBase + i, join(opts.outDir, 'experiments'));
      const dir = join(opts.outDir, 'runs', `${String(i + 1).padStart(2, '0')}-${run.key}-${run.variant.name}`);
      const w = exp.windows;
      // The previous run may have left the system overloaded (a naive queue draining): not this run's baseline.
      const settled = i === 0 ? undefined : await settleLab(plan, rate, opts.stateDir, probeSeed, log, opts.signal);
      if (opts.signal?.aborted) break;
      log(`run ${i + 1}/${runs.length}: ${exp.title} (${w.warmup_s + w.baseline_s + w.fault_s + w.recovery_s} s at ${rate} req/s)`);
      let { verdict, record } = await runExperiment(exp, runTarget(opts.stateDir), { outDir: dir, signal: opts.signal, onProgress: phaseLogger(log) });
      let ranDir = dir;
      let retried: DemoRun['retried'];
      if (plan.retry_invalid && verdict.result === 'invalid' && !opts.signal?.aborted) {
        // Invalid = unmeasured (the generator or the machine was the bottleneck), not a verdict on the lab: once
        // more, with fresh keys, and the first attempt is kept and reported beside the second.
        log(`  → INVALID (${verdict.reasons.join('; ')}): re-running ${run.key} ${run.variant.name} once`);
        retried = { result: verdict.result, reasons: verdict.reasons, dir };
        await settleLab(plan, rate, opts.stateDir, probeSeed, log, opts.signal);
        const again = deriveExperiment(plan, run, rate, seedBase + 500 + i, join(opts.outDir, 'experiments', 'retry'));
        ranDir = `${dir}-retry`;
        ({ verdict, record } = await runExperiment(again, runTarget(opts.stateDir), { outDir: ranDir, signal: opts.signal, onProgress: phaseLogger(log) }));
      }
      // One read of the run's series for both: the users' figures and each service's own.
      const store = readRun(ranDir).store();
      const figures = runFigures(store, record);
      done.push({
        key: run.key,
        variant: run.variant.name,
        must_hold: run.variant.must_hold,
        title: exp.title,
        dir: ranDir,
        experiment_file: exp.source,
        verdict,
        figures,
        ...(retried ? { retried } : {}),
        ...(settled ? { settled } : {}),
        faults_injected: record.fault_events.length,
        reverted: record.marks.last_revert !== undefined,
        intervention: exp.recovery.intervention ?? null,
        faults: record.fault_events.map((f) => ({ type: f.fault_type, target: f.target, params: f.params })),
        services: runServices(store, record),
        ...(record.cpu ? { cpu: record.cpu } : {}),
      });
      log(`  → ${verdict.result.toUpperCase()}: ${oneLine(verdict)}`);
    }
  } finally {
    interrupted = opts.signal?.aborted ?? false;
    log(interrupted ? 'interrupted: reverting every fault and stopping the lab' : 'stopping the lab');
    await stopLab(opts.stateDir);
  }
  const summary: DemoSummary = {
    title: plan.title,
    plan: plan.source,
    started_at: new Date(t0).toISOString(),
    wall_s: Math.round((Date.now() - t0) / 1000),
    interrupted,
    rate_rps: rate ?? null,
    breakpoint,
    windows: plan.windows,
    runs: done,
    recovery: recoveryRanking(done),
    gate_failures: done.filter((r) => r.must_hold && r.verdict.result !== 'held').map((r) => `${r.key} ${r.variant}: ${r.verdict.result}`),
    report: { markdown: join(opts.outDir, 'report.md'), html: join(opts.outDir, 'report.html'), json: join(opts.outDir, 'summary.json') },
  };
  writeDemoReport(opts.outDir, summary);
  log(`report: ${summary.report.html} (and report.md) — ${summary.wall_s} s in all`);
  return summary;
}

/** The lab needs node_modules and a few Debian packages; scripts/setup.sh installs what is missing. */
async function ensureSetup(log: (line: string) => void): Promise<void> {
  const missing = missingLabPrerequisites();
  if (existsSync(join(ROOT, 'node_modules')) && missing.length === 0) return;
  log(`setup needed (${missing.length > 0 ? missing.join('; ') : 'npm dependencies'}): running bash scripts/setup.sh`);
  const code = await new Promise<number>((resolve) => {
    // Its output goes to stderr: stdout is the demo's (and --json's) alone.
    const child = spawn('bash', [join(ROOT, 'scripts/setup.sh')], { cwd: ROOT, stdio: ['ignore', 2, 2] });
    child.on('exit', (c) => resolve(c ?? 1));
    child.on('error', () => resolve(1));
  });
  if (code !== 0) throw new FaultlineError('CAPABILITY_MISSING', `scripts/setup.sh failed (exit ${code})`, { hint: 'run it yourself to see why: bash scripts/setup.sh' });
}

/** A base port whose whole range (services, proxies, controller) is free. */
async function freeBasePort(): Promise<number> {
  const offsets = systemPorts(labSystem(0));
  // Below 32768: the kernel's ephemeral ports (any outgoing connection's local port) would race for the range.
  for (let base = 27_000; base <= 31_000; base += 1_000) {
    if ((await Promise.all(offsets.map((o) => isPortFree(base + o)))).every(Boolean)) return base;
  }
  throw new FaultlineError('LISTEN_FAILED', 'no free lab port range between 27000 and 31000', { hint: 'pass --base-port' });
}

/**
 * The ramp: a staircase against the system's entry until the SLO breaks or the generator can no longer keep a
 * step's rate (each step judged on its own numbers); the plan's max_rps, when it gives one, is a safety cap only.
 * One leg per mitigations block of the plan, in order: the first ramps in full, each later one checks one step at
 * the lowest breakpoint so far and ramps (capped there) only when that step does not hold.
 */
async function rampBreakpoint(
  plan: DemoPlan,
  stateDir: string,
  seed: number,
  steadyOf: (r: BreakpointResult) => SteadyRate,
  log: (l: string) => void,
  signal?: AbortSignal,
): Promise<RanLeg[]> {
  const bp = plan.rate.breakpoint!;
  const growth = bp.step_factor !== undefined && bp.step_factor > 1 ? `×${bp.step_factor} (at least +${bp.step_rps})` : `+${bp.step_rps}`;
  const legs: RanLeg[] = [];
  for (const [k, block] of (bp.mitigations ?? [null]).entries()) {
    if (signal?.aborted) break;
    const low = lowestBasis(legs, steadyOf);
    if (k > 0 && low !== null) {
      // One step at the lowest breakpoint so far: when this block holds it, that breakpoint stands for both.
      log(`breakpoint check: one ${bp.step_s}-s step at ${low} req/s, the lowest breakpoint so far`);
      const check = await rampLeg(stateDir, block, 'check', { start_rps: low, step_rps: bp.step_rps, max_rps: low }, bp, seed + k * 100 + 50, log, signal);
      legs.push(check);
      if (check.result.status === 'not_reached' || signal?.aborted) continue;
    }
    const top = low !== null ? `capped at ${low} req/s, the lowest breakpoint so far` : bp.max_rps === undefined ? 'no cap: until the SLO breaks or the generator cannot keep up' : `safety cap ${bp.max_rps} req/s`;
    log(`breakpoint ramp: ${bp.start_rps} req/s ${growth} every ${bp.step_s} s (${top}), SLO ${bp.slo}`);
    legs.push(await rampLeg(stateDir, block, 'ramp', { start_rps: bp.start_rps, step_rps: bp.step_rps, step_factor: bp.step_factor, max_rps: low ?? bp.max_rps }, bp, seed + k * 100, log, signal));
  }
  return legs;
}

/** One leg of the ramp: the system under one mitigations block (restored after), stepped as `steps` says. */
async function rampLeg(
  stateDir: string,
  block: Record<string, unknown> | null,
  role: RanLeg['role'],
  steps: { start_rps: number; step_rps: number; step_factor?: number; max_rps?: number },
  bp: NonNullable<DemoPlan['rate']['breakpoint']>,
  seed: number,
  log: (l: string) => void,
  signal?: AbortSignal,
): Promise<RanLeg> {
  const target = runTarget(stateDir);
  const mitigations = await applyMitigations(target.view.switches, block ?? {});
  log(`  mitigations ${JSON.stringify(mitigations.requested)}: ${mitigations.applied}`);
  try {
    const result = await findBreakpoint({
      target: target.view.entryUrl!,
      mixEnv: target.mixEnv,
      mixFile: join(ROOT, 'experiments/mixes/lab-default.yaml'),
      seed,
      timeout_ms: 1000,
      max_lag_ms: 50,
      connections: 64,
      ...steps,
      step_duration_ms: bp.step_s * 1000,
      slo: bp.slo,
      signal,
      onStep: (s) => log(`  ${rampLogLine(rampStep(s))}`),
    });
    return { result, mitigations: block, role };
  } finally {
    await mitigations.restore();
  }
}

/**
 * Waits (≤ 120 s) until 3-s probes of the plan's mix at the runs' own rate hold the plan's SLO again: a system
 * still working off the previous run (a queue the worker settles, a backlog) answers a trickle fine and the
 * run's rate late, so only the run's rate tells. Says how long it took.
 */
async function settleLab(plan: DemoPlan, rateRps: number, stateDir: string, seed: () => number, log: (l: string) => void, signal?: AbortSignal): Promise<SettleResult> {
  const target = runTarget(stateDir);
  const slo = plan.rate.breakpoint?.slo ?? DEFAULT_SLO;
  const r = await settle({ target: target.view.entryUrl!, mixFile: join(ROOT, 'experiments/mixes/lab-default.yaml'), mixEnv: target.mixEnv, slo, seed, signal, rate_rps: rateRps, probe_s: 3, max_wait_s: 120 });
  if (!r.settled) log(`  not settled after ${r.waited_s.toFixed(0)} s (${r.probes} probes at ${rateRps} req/s, last: ${r.last}): starting the next run anyway`);
  else log(`  settled after ${r.waited_s.toFixed(0)} s (${r.probes} probe${r.probes > 1 ? 's' : ''} at ${rateRps} req/s; last: ${r.last})`);
  return r;
}

/** A line when the phase changes and every 10 s within it: enough to follow, not a flood in a log file. */
function phaseLogger(log: (l: string) => void): (p: Progress) => void {
  let last = '';
  let at = 0;
  return (p) => {
    if (p.phase === last && Date.now() - at < 10_000) return;
    last = p.phase;
    at = Date.now();
    // A phase's first second has no samples yet: say so once instead of a row of dashes.
    const slis = p.slis.every((s) => s.value === null) ? '' : p.slis.map((s) => `${s.name} ${s.value === null ? '—' : s.unit === 'ms' ? `${s.value.toFixed(0)} ms` : `${(s.value * 100).toFixed(2)} %`}${s.ok ? '' : ' BREACH'}`).join(' · ');
    log(`  ${p.phase}${p.left_s ? ` (${p.left_s} s left)` : ''}${p.faults_active ? ` · ${p.faults_active} fault${p.faults_active === 1 ? '' : 's'} active` : ''}${slis ? ` · ${slis}` : ''}`);
  };
}

function oneLine(v: Verdict): string {
  const n = (x: number | null, d = 0): string => (x === null ? '—' : x.toFixed(d));
  return `write p99 ${n(v.baseline_p99)} → ${n(v.fault_p99)} ms, write errors ${n(v.fault_err_rate === null ? null : v.fault_err_rate * 100, 2)} %, reads ${n(v.fault_availability === null ? null : v.fault_availability * 100, 2)} %, MTTR ${n(v.mttr_s, 1)} s`;
}

const clock = (t0: number): string => {
  const s = Math.floor((Date.now() - t0) / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
};
