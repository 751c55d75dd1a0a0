/** timeout: the target stops answering; connections are closed after_ms later (0 = left hanging). */
import { z } from 'zod';
import { Direction, toxicFault } from './via-proxy.ts';

export const timeout = toxicFault(
  'timeout',
  'swallows all traffic; closes connections after after_ms (0 = never)',
  'timeout',
  z.strictObject({ after_ms: z.number().int().min(0).max(86_400_000).default(0), direction: Direction }),
  (p) => ({ timeout: p.after_ms }),
);
