/** reset: connections to the target are aborted with a TCP RST after_ms after their first data. */
import { z } from 'zod';
import { Direction, toxicFault } from './via-proxy.ts';

export const reset = toxicFault(
  'reset',
  'aborts connections with an RST after_ms after their first data',
  'reset_peer',
  z.strictObject({ after_ms: z.number().int().min(0).max(3_600_000).default(0), direction: Direction }),
  (p) => ({ timeout: p.after_ms }),
);
