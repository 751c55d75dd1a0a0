/** bandwidth: caps each connection to the target at rate_kbps (1 KB = 1000 B); 0 holds all data. */
import { z } from 'zod';
import { Direction, toxicFault } from './via-proxy.ts';

export const bandwidth = toxicFault(
  'bandwidth',
  'limits each connection to rate_kbps KB/s',
  'bandwidth',
  z.strictObject({ rate_kbps: z.number().int().min(0).max(100_000_000), direction: Direction }),
  (p) => ({ rate: p.rate_kbps }),
);
