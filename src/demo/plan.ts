/**
 * The demo plan file (experiments/demo-schedule.yaml, experiments/gameday-ci.yaml): which committed experiment
 * files to run, in which variants (a variant = a `mitigations:` block, e.g. before = none, after = all), with
 * which shorter windows and at which rate (fixed, or ~65 % of a breakpoint found with a short ramp).
 * This module alone owns that file's shape and the derivation of one concrete, runnable experiment file per
 * (experiment, variant): the committed file with windows, rate and mitigations replaced, written beside the run
 * so that each run stays reproducible command for command (`faultline run <that file>`).
 *
 *   plan.yaml ─▶ DemoPlan ─┬─ experiments/exp1-….yaml (full windows) ─┐
 *                          └─ variants[before, after] ────────────────┴─▶ derive ─▶ <out>/experiments/exp1.before.yaml
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { z } from 'zod';
import { FaultlineError, throwIfIssues } from '../core/errors.ts';
import { issuesFromZod } from '../core/schema.ts';
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
  /** A verdict other than `held` in this variant fails the plan (the CI game day's gate). */
  must_hold: z.boolean().default(false),
});

const Breakpoint = z.strictObject({
  start_rps: z.number().positive(),
  step_rps: z.number().positive(),
  step_s: z.number().min(2).max(60),
  max_rps: z.number().positive(),
  slo: z.string().default('p99<250ms,errors<0.1%'),
  /** The steady rate as a fraction of the breakpoint (DESIGN: ~65 %). */
  fraction: z.number().gt(0).max(1).default(0.65),
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
  /** Load: a fixed rate, or a breakpoint ramp whose result (× fraction) is clamped to [min_rps, max_rps]. */
  rate: z.strictObject({
    fixed_rps: z.number().positive().optional(),
    breakpoint: Breakpoint.optional(),
    min_rps: z.number().positive().default(20),
    /** What this 2-core box sustains with the lab, the load generator and the scraper sharing it. */
    max_rps: z.number().positive().default(100),
  }),
});

export type DemoPlan = z.output<typeof DemoPlanSchema> & { source: string };
export type DemoVariant = DemoPlan['variants'][number];

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
  if (plan.rate.fixed_rps === undefined && plan.rate.breakpoint === undefined) issues.push({ path: 'rate', message: 'give fixed_rps or breakpoint' });
  throwIfIssues(issues);
  return plan;
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
      .map((variant) => ({ key: basename(rel).replace(/\.ya?ml$/, ''), variant, base: resolve(dirname(plan.source), rel) })),
  );
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
