/**
 * ramping: stages, each ramping linearly from the previous stage's target (the first from `start_rps`) to its
 * own over its duration; a stage with the same target as the one before holds (k6's ramping-arrival-rate).
 */
import { z } from 'zod';
import { RateProfile } from '../profile.ts';
import { defineExecutor, LIMITS } from './executor.ts';

export const ramping = defineExecutor({
  name: 'ramping',
  summary: 'linear ramps between stage targets',
  schema: z
    .strictObject({
      executor: z.literal('ramping'),
      start_rps: z.number().min(0).max(LIMITS.max_rps).default(0),
      stages: z
        .array(
          z.strictObject({
            duration_ms: z.number().int().min(1).max(LIMITS.max_duration_ms),
            target_rps: z.number().min(0).max(LIMITS.max_rps),
          }),
        )
        .min(1, 'needs at least one stage'),
    })
    .refine((c) => c.stages.reduce((a, s) => a + s.duration_ms, 0) <= LIMITS.max_duration_ms, {
      message: 'stages last longer than 24 h in total',
      path: ['stages'],
    }),
  plan(c) {
    let from = c.start_rps;
    return RateProfile.of(
      c.stages.map((s) => {
        const seg = { duration_ms: s.duration_ms, from_rps: from, to_rps: s.target_rps };
        from = s.target_rps;
        return seg;
      }),
    );
  },
});
