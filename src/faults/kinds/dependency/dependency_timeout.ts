/** dependency_timeout: every call to the dependency waits delay_ms, then gets a 504 (an upstream time-out). */
import { z } from 'zod';
import { controlFault } from './control.ts';

export const dependencyTimeout = controlFault(
  'dependency_timeout',
  'every call waits delay_ms, then the dependency answers 504',
  z.strictObject({ delay_ms: z.number().int().min(0).max(600_000).default(30_000) }),
  (p) => ({ mode: 'timeout', timeout_ms: p.delay_ms }),
);
