/** http_delay: pct % of the target's HTTP requests wait delay_ms in the proxy before the target sees them. */
import { z } from 'zod';
import { httpToxicFault } from './via-http-toxic.ts';

export const httpDelay = httpToxicFault(
  'http_delay',
  'delays pct % of HTTP requests by delay_ms, per request on keep-alive connections',
  z.strictObject({ delay_ms: z.number().int().min(1).max(600_000), pct: z.number().min(0).max(100).default(100), seed: z.number().int().min(0).max(2 ** 31 - 1).default(0) }),
  (p) => ({ delay_ms: p.delay_ms, pct: p.pct, seed: p.seed }),
);
