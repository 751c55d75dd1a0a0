/** dependency_error: the dependency itself answers `status` (a 5xx) to pct % of calls. */
import { z } from 'zod';
import { controlFault } from './control.ts';

export const dependencyError = controlFault(
  'dependency_error',
  'the dependency answers status (5xx) to pct % of its calls',
  z.strictObject({ pct: z.number().min(0).max(100).default(100), status: z.number().int().min(500).max(599).default(503) }),
  (p) => ({ error_rate: p.pct / 100, error_status: p.status }),
);
