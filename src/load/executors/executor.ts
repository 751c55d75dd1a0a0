/**
 * The executor contract. An executor is a spec (a zod schema with units in field names, defaults, every error
 * reported) plus `plan`, which turns a valid config into a RateProfile: *when* arrivals are due. Executors never
 * send, count or aggregate — the engine sends, the aggregator counts, outputs report (k6's split).
 */
import type { z } from 'zod';
import type { RateProfile } from '../profile.ts';

export interface ExecutorDefinition<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly summary: string;
  readonly schema: S;
  plan(config: z.output<S>): RateProfile;
}

/** Upper bounds every executor shares: a run is bounded in time and in rate. */
export const LIMITS = { max_rps: 10_000_000, max_duration_ms: 24 * 3_600_000 } as const;

/**
 * Identity helper that ties `plan`'s argument to the schema's output type.
 * @example export const constant = defineExecutor({ name: 'constant', summary: '…', schema, plan: (c) => … });
 */
export function defineExecutor<S extends z.ZodType>(def: ExecutorDefinition<S>): ExecutorDefinition<S> {
  return def;
}
