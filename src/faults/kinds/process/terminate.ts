/**
 * terminate: SIGTERM (the service drains and exits), then SIGKILL to the group after grace_ms. Inject returns
 * once the process is gone; the fault stays in effect until the supervisor's replacement is healthy (outage.ts).
 */
import { z } from 'zod';
import { outageFault } from './outage.ts';
import { terminate as stopGracefully } from './pid.ts';

export const terminate = outageFault(
  'terminate',
  'SIGTERM with grace_ms to drain, then SIGKILL; in effect until the supervisor brings it back healthy',
  'signal SIGTERM, SIGKILL after grace',
  z.strictObject({ grace_ms: z.number().int().min(0).max(120_000).default(5_000) }),
  (victim, p) => stopGracefully(victim, p.grace_ms),
);
