/** constant: one arrival rate for the whole run (k6's constant-arrival-rate). */
import { z } from 'zod';
import { RateProfile } from '../profile.ts';
import { defineExecutor, LIMITS } from './executor.ts';

export const constant = defineExecutor({
  name: 'constant',
  summary: 'a fixed arrival rate for a fixed duration',
  schema: z.strictObject({
    executor: z.literal('constant'),
    rate_rps: z.number().positive().max(LIMITS.max_rps),
    duration_ms: z.number().int().min(1).max(LIMITS.max_duration_ms),
  }),
  plan: (c) => RateProfile.of([{ duration_ms: c.duration_ms, from_rps: c.rate_rps, to_rps: c.rate_rps }]),
});
