/** latency: every chunk through the target's proxy waits delay_ms ± jitter_ms. */
import { z } from 'zod';
import { Direction, toxicFault } from './via-proxy.ts';

export const latency = toxicFault(
  'latency',
  'adds delay_ms ± jitter_ms to traffic to/from the target',
  'latency',
  z.strictObject({
    delay_ms: z.number().int().min(0).max(600_000),
    jitter_ms: z.number().int().min(0).max(600_000).default(0),
    direction: Direction,
  }),
  (p) => ({ latency: p.delay_ms, jitter: p.jitter_ms }),
);
