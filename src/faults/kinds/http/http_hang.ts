/**
 * http_hang: pct % of the target's HTTP requests never get an answer; their connection goes silent after them
 * (as with a hung server) and is closed when the fault is reverted.
 */
import { z } from 'zod';
import { httpToxicFault } from './via-http-toxic.ts';

export const httpHang = httpToxicFault(
  'http_hang',
  'pct % of HTTP requests are never answered (their connection goes silent until the revert closes it)',
  z.strictObject({ pct: z.number().min(0).max(100).default(100), seed: z.number().int().min(0).max(2 ** 31 - 1).default(0) }),
  (p) => ({ hang: 1, pct: p.pct, seed: p.seed }),
);
