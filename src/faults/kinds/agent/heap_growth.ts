/**
 * heap_growth: the process retains mb_per_s MiB of V8 heap per second, up to max_mb, and lets it all go at the
 * revert (or the TTL) — a leak with a bound, for GC pressure and memory-limit experiments.
 *
 * @example {"type":"heap_growth","target":"shop","params":{"mb_per_s":20,"max_mb":400}}
 */
import { z } from 'zod';
import { agentFault } from './via-agent.ts';

const Params = z.strictObject({
  mb_per_s: z.number().min(0.25).max(1_024),
  max_mb: z.number().int().min(1).max(65_536),
});

export const heap_growth = agentFault('heap_growth', 'retains mb_per_s MiB of heap per second up to max_mb', Params, (p) => ({ type: 'heap_growth', mb_per_s: p.mb_per_s, max_mb: p.max_mb }));
