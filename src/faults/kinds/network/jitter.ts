/** jitter: delay spread uniformly over [0, 2·jitter_ms) around no base delay (variance without a fixed cost). */
import { z } from 'zod';
import { Direction, toxicFault } from './via-proxy.ts';

export const jitter = toxicFault(
  'jitter',
  'adds a random delay in [0, 2·jitter_ms) to every chunk',
  'latency',
  z.strictObject({ jitter_ms: z.number().int().min(1).max(600_000), direction: Direction }),
  (p) => ({ latency: p.jitter_ms, jitter: p.jitter_ms }),
);
