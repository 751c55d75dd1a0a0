/** slow_close: the close of every connection to the target is held for delay_ms. */
import { z } from 'zod';
import { Direction, toxicFault } from './via-proxy.ts';

export const slowClose = toxicFault(
  'slow_close',
  'holds the close of each connection for delay_ms',
  'slow_close',
  z.strictObject({ delay_ms: z.number().int().min(0).max(3_600_000), direction: Direction }),
  (p) => ({ delay: p.delay_ms }),
);
