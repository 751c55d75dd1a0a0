/** http_error: the proxy answers pct % of the target's HTTP requests with `status` in its place. */
import { z } from 'zod';
import { httpToxicFault } from './via-http-toxic.ts';

export const httpError = httpToxicFault(
  'http_error',
  'answers pct % of HTTP requests with status, per request on keep-alive connections',
  z.strictObject({ status: z.number().int().min(400).max(599).default(503), pct: z.number().min(0).max(100).default(100), seed: z.number().int().min(0).max(2 ** 31 - 1).default(0) }),
  (p) => ({ status: p.status, pct: p.pct, seed: p.seed }),
);
