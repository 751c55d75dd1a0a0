/**
 * breakpoint: a staircase from `start_rps` up every `step_duration_ms`, to `max_rps`: by `step_rps` each step, or,
 * with `step_factor` > 1, by that factor (never by less than `step_rps`), so a ramp crosses a wide range of
 * capacities in few steps (50 → 1,700 req/s in 9 steps at ×1.5) at a precision of one factor. Each step is
 * one segment, so every SecondSample names its step in `stage`; whoever judges the SLO (src/load/breakpoint.ts)
 * aborts the run when a step breaks it — the executor itself never looks at results.
 */
import { z } from 'zod';
import { RateProfile } from '../profile.ts';
import { defineExecutor, LIMITS } from './executor.ts';

export const breakpoint = defineExecutor({
  name: 'breakpoint',
  summary: 'step the rate up until told to stop (or max_rps)',
  schema: z
    .strictObject({
      executor: z.literal('breakpoint'),
      start_rps: z.number().positive().max(LIMITS.max_rps),
      step_rps: z.number().positive().max(LIMITS.max_rps),
      step_factor: z.number().min(1).max(10).optional(),
      step_duration_ms: z
        .number()
        .int()
        .min(1000)
        .max(3_600_000)
        .refine((ms) => ms % 1000 === 0, 'must be whole seconds (steps are judged on per-second samples)'),
      max_rps: z.number().positive().max(LIMITS.max_rps),
    })
    .refine((c) => c.max_rps >= c.start_rps, { message: 'must be ≥ start_rps', path: ['max_rps'] })
    .refine((c) => breakpointSteps(c).length * c.step_duration_ms <= LIMITS.max_duration_ms, {
      message: 'the staircase would last longer than 24 h; raise step_rps or lower max_rps',
      path: ['max_rps'],
    }),
  plan: (c) =>
    RateProfile.of(breakpointSteps(c).map((r) => ({ duration_ms: c.step_duration_ms, from_rps: r, to_rps: r }))),
});

/**
 * The rate of each step: start, then each step `step_rps` more (or `step_factor` times more, rounded to a whole
 * req/s, when that is the larger rise), capped at max (the last step is max itself).
 * @example breakpointSteps({ start_rps: 100, step_rps: 100, max_rps: 250 }) // [100, 200, 250]
 * @example breakpointSteps({ start_rps: 50, step_rps: 50, step_factor: 1.5, max_rps: 600 }) // [50, 100, 150, 225, 338, 507, 600]
 */
export function breakpointSteps(c: { start_rps: number; step_rps: number; step_factor?: number; max_rps: number }): number[] {
  const steps: number[] = [];
  const f = c.step_factor ?? 1;
  const next = (r: number): number => Math.max(r + c.step_rps, f > 1 ? Math.round(r * f) : 0);
  for (let r = c.start_rps; r < c.max_rps && steps.length < 100_000; r = next(r)) steps.push(r);
  steps.push(c.max_rps);
  return steps;
}
