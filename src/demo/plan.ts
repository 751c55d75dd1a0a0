/**
 * The demo plan file (experiments/demo-schedule.yaml, experiments/demo-all-schedule.yaml,
 * experiments/gameday-ci.yaml): which committed experiment files to run, in which variants (a variant = a
 * `mitigations:` block, e.g. before = none, after = all), with which shorter windows and at which rate (fixed, or
 * a fraction of the breakpoint a ramp finds, floored at min_rps and never capped). This module alone owns that
 * file's shape, which plan `faultline demo` runs (`--all`, `--plan`), the steady rate a breakpoint gives, and the
 * derivation of one concrete, runnable experiment file per (experiment, variant): the committed file with
 * windows, rate and mitigations replaced, written beside the run so that each run stays reproducible command for
 * command (`faultline run <that file>`).
 *
 *   plan.yaml ─▶ DemoPlan ─┬─ experiments/exp1-….yaml (full windows) ─┐
 *                          └─ variants[before, after] ────────────────┴─▶ derive ─▶ <out>/experiments/exp1.before.yaml
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { z } from 'zod';
import { FaultlineError, throwIfIssues } from '../core/errors.ts';
import { issuesFromZod } from '../core/schema.ts';
import type { BreakpointResult } from '../load/breakpoint.ts';
import { loadExperiment, type Experiment } from '../runner/schema.ts';

const Windows = z.strictObject({
  warmup_s: z.number().min(0),
  baseline_s: z.number().min(1),
  fault_s: z.number().min(1),
  recovery_s: z.number().min(1),
});

const Variant = z.strictObject({
  /** Short name shown in the report: before / after. */
  name: z.string().regex(/^[a-z][a-z0-9-]{0,23}$/),
  /** The lab's mitigation block for this variant (lab/README.md), replacing the file's own. */
  mitigations: z.record(z.string(), z.unknown()),
  /** Run this variant only for these experiment files (default: all of them). */
  only: z.array(z.string()).optional(),
  /**
   * Derive this variant from the committed file's sibling with this suffix (`.mitigated`: exp1-….mitigated.yaml,
   * the after-file), so what that file says of the system it describes (e.g. `recovery.intervention`) comes along;
   * its mitigations are replaced by this variant's all the same. Default: the listed file itself.
   */
  file_suffix: z.string().regex(/^\.[a-z][a-z0-9-]{0,23}$/, 'a dot and a name, e.g. .mitigated').optional(),
  /** A verdict other than `held` in this variant fails the plan (the CI game day's gate). */
  must_hold: z.boolean().default(false),
});

/** The lab's steady-state SLO (DESIGN.md): what the ramp breaks and what a settled system holds again. */
export const DEFAULT_SLO = 'p99<250ms,errors<0.1%';

const Breakpoint = z.strictObject({
  start_rps: z.number().positive(),
  step_rps: z.number().positive(),
  step_s: z.number().min(2).max(60),
  /** A safety cap only: without it the staircase has no top (the ramp ends when the SLO or the generator gives out). */
  max_rps: z.number().positive().optional(),
  slo: z.string().default(DEFAULT_SLO),
  /** The steady rate as a fraction of the breakpoint (DESIGN: ~65 %). */
  fraction: z.number().gt(0).max(1).default(0.65),
  /** Each step this many times the last (never less than step_rps more); default 1: step_rps more each step. */
  step_factor: z.number().min(1).max(10).optional(),
  /**
   * The mitigations blocks the system runs the ramp with, each in turn (each restored after it). The steady rate
   * must be one every variant's baseline holds, and which variant gives out first depends on the machine: the
   * naive system's bounded pools, or the mitigated one's costlier requests. The first block ramps in full; each
   * later one first holds one step at the lowest breakpoint so far, and ramps (capped there) only when that step
   * breaks. The breakpoint is the lowest found. Default: one ramp, with the system's settings as they are.
   */
  mitigations: z.array(z.record(z.string(), z.unknown())).min(1).optional(),
});

export const DemoPlanSchema = z.strictObject({
  title: z.string().min(1),
  /** Committed experiment files (full windows), relative to the plan file. */
  experiments: z.array(z.string().min(1)).min(1),
  variants: z.array(Variant).min(1),
  /** The windows every run uses instead of the file's own; fault offsets and durations are scaled to fit. */
  windows: Windows,
  /** Re-run once an experiment judged invalid (unmeasurable: the machine or the generator was the bottleneck). */
  retry_invalid: z.boolean().default(false),
  /** Load: a fixed rate, or fraction × the breakpoint a ramp finds (floored at min_rps; see steadyRate). */
  rate: z.strictObject({
    fixed_rps: z.number().positive().optional(),
    breakpoint: Breakpoint.optional(),
    /** The least a run is given: enough writes in a short baseline for a p99 to be an estimate at all. */
    min_rps: z.number().positive().default(20),
  }),
});

export type DemoPlan = z.output<typeof DemoPlanSchema> & { source: string };
export type DemoVariant = DemoPlan['variants'][number];

/** The committed plans, relative to the repository: `faultline demo` runs the first, `faultline demo --all` the second. */
export const DEMO_PLAN = 'experiments/demo-schedule.yaml';
export const DEMO_ALL_PLAN = 'experiments/demo-all-schedule.yaml';

/**
 * Which plan file `faultline demo` runs: `--plan <file>`, `--all` (experiments 1–10), or the default. The two
 * flags name different plans, so both together are bad input (exit 2), never one silently winning.
 * @example demoPlanFile({ all: true }, '/repo') // '/repo/experiments/demo-all-schedule.yaml'
 */
export function demoPlanFile(flags: { all?: boolean; plan?: string }, root: string): string {
  if (flags.all && flags.plan !== undefined) {
    throw new FaultlineError('INVALID_INPUT', `--all and --plan conflict: --all runs ${DEMO_ALL_PLAN}, --plan runs ${flags.plan}`, {
      field: '--all',
      hint: `give one of them: \`faultline demo --all\`, or \`faultline demo --plan ${flags.plan}\``,
    });
  }
  return flags.plan !== undefined ? resolve(flags.plan) : join(root, flags.all ? DEMO_ALL_PLAN : DEMO_PLAN);
}

/**
 * Reads and validates a plan file; every problem is reported at once, with its path.
 * @example const plan = loadPlan('experiments/demo-schedule.yaml'); plan.variants.map((v) => v.name) // ['before', 'after']
 */
export function loadPlan(file: string): DemoPlan {
  const source = resolve(file);
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(source, 'utf8'));
  } catch (err) {
    throw new FaultlineError('INVALID_INPUT', `${file}: ${(err as Error).message.split('\n')[0]}`, { field: 'PLAN' });
  }
  const parsed = DemoPlanSchema.safeParse(raw);
  if (!parsed.success) throwIfIssues(issuesFromZod(raw, parsed.error.issues));
  const plan = { ...parsed.data!, source };
  const issues = plan.variants.flatMap((v, i) =>
    (v.only ?? []).filter((o) => !plan.experiments.includes(o)).map((o) => ({ path: `variants[${i}].only`, message: `"${o}" is not in experiments` })),
  );
  for (const run of plannedRuns(plan).filter((r) => !existsSync(r.base))) {
    const i = plan.variants.indexOf(run.variant);
    issues.push({ path: run.variant.file_suffix === undefined ? 'experiments' : `variants[${i}].file_suffix`, message: `no file ${relative(dirname(source), run.base)}` });
  }
  if (plan.rate.fixed_rps === undefined && plan.rate.breakpoint === undefined) issues.push({ path: 'rate', message: 'give fixed_rps or breakpoint' });
  throwIfIssues(issues);
  return plan;
}

/** The committed file a variant of a listed experiment derives from (the listed one, or its file_suffix sibling). */
function variantFile(plan: DemoPlan, rel: string, variant: DemoVariant): string {
  const file = variant.file_suffix === undefined ? rel : rel.replace(/(\.ya?ml)$/, `${variant.file_suffix}$1`);
  return resolve(dirname(plan.source), file);
}

/** One run the plan asks for. */
export interface PlannedRun {
  /** Stable key of the experiment: the file name without extension (exp1-payments-latency). */
  key: string;
  variant: DemoVariant;
  /** The committed file it derives from. */
  base: string;
}

/** The runs in order: for each experiment, each variant that applies (before then after, side by side). */
export function plannedRuns(plan: DemoPlan): PlannedRun[] {
  return plan.experiments.flatMap((rel) =>
    plan.variants
      .filter((v) => v.only === undefined || v.only.includes(rel))
      .map((variant) => ({ key: basename(rel).replace(/\.ya?ml$/, ''), variant, base: variantFile(plan, rel, variant) })),
  );
}

/** The steady rate a breakpoint ramp gives, and what it rests on. */
export interface SteadyRate {
  rate_rps: number;
  /** What the fraction was taken of: the breakpoint, or the ramp's cap when the SLO held to it; null when the ramp found none. */
  basis_rps: number | null;
  /** The basis is a lower bound: the lab was never pushed past it (the generator gave out first, or the cap). */
  lower_bound: boolean;
  /** The plan's floor (min_rps) was used: fraction × basis fell below it, or there was no basis. */
  floored: boolean;
}

/**
 * fraction × the breakpoint, floored at min_rps and never capped: the lab runs at a share of what it was measured
 * to sustain. A breakpoint that is a lower bound (the generator gave out before the SLO did) is used as it is.
 * @example steadyRate({ status: 'found', breakpoint_rps: 400, breakpoint_is_lower_bound: false, max_rps: 864_000 }, 0.65, 32).rate_rps // 260
 */
export function steadyRate(bp: Pick<BreakpointResult, 'status' | 'breakpoint_rps' | 'breakpoint_is_lower_bound' | 'max_rps'>, fraction: number, minRps: number): SteadyRate {
  const basis = bp.status === 'not_reached' ? bp.max_rps : bp.status === 'found' || bp.status === 'generator_limit' || bp.status === 'interrupted' ? bp.breakpoint_rps : null;
  const share = basis === null ? null : Math.round(basis * fraction);
  const rate = share === null || share < minRps ? minRps : share;
  return { rate_rps: rate, basis_rps: basis, lower_bound: basis !== null && bp.breakpoint_is_lower_bound, floored: rate !== share };
}

/**
 * Writes the concrete experiment for one planned run into `dir` and loads it: the committed file with the plan's
 * windows (fault offsets/durations scaled by the same factor), the given rate and seed, an absolute mix path and
 * the variant's mitigations. The seed must differ from every earlier run's on the same lab data: a seed replays
 * the same idempotency keys, and a replayed write is answered from the existing order without touching payments.
 * @example const exp = deriveExperiment(plan, run, 60, 1_763_900_000, 'runs/demo/experiments'); exp.load.rate // 60
 */
export function deriveExperiment(plan: DemoPlan, run: PlannedRun, rateRps: number, seed: number, dir: string): Experiment {
  const base = loadExperiment(run.base);
  const scale = plan.windows.fault_s / base.windows.fault_s;
  const raw = parseYaml(readFileSync(run.base, 'utf8')) as Record<string, unknown>;
  const faults = (raw.faults as Record<string, unknown>[]).map((f) => {
    const out: Record<string, unknown> = { ...f };
    if (typeof f.offset_s === 'number') out.offset_s = round1(f.offset_s * scale);
    if (typeof f.duration_s === 'number') out.duration_s = round1(f.duration_s * scale);
    return out;
  });
  const derived = {
    ...raw,
    title: `${base.title.replace(/\s+—\s+(before|after)$/, '')} — ${run.variant.name}`,
    tags: [...new Set([...base.tags.filter((t) => t !== 'before' && t !== 'after'), run.variant.name, 'demo'])],
    windows: plan.windows,
    load: { ...(raw.load as Record<string, unknown>), rate: rateRps, seed, mix: base.mix_path },
    faults,
    mitigations: run.variant.mitigations,
  };
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${run.key}.${run.variant.name}.yaml`);
  const header = [
    `# Derived by \`faultline demo\` from ${run.base}`,
    `# (windows from ${plan.source}, rate ${rateRps} req/s, seed ${seed}, mitigations of the "${run.variant.name}" variant).`,
    '# A re-run on the same lab data replays this seed\'s idempotency keys: change the seed (or use a fresh lab) first.',
    `# Re-run it alone on a running lab: faultline run ${file}`,
  ].join('\n');
  writeFileSync(file, `${header}\n${toYaml(derived, { lineWidth: 0 })}`);
  return loadExperiment(file);
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
