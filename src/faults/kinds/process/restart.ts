/**
 * restart: terminate (SIGTERM, grace_ms, SIGKILL) and let the supervisor restart it; inject returns only once a
 * new pid is running and healthy, so the fault's window is the whole restart. Afterwards verify is false (the
 * new instance replaced the old): there is nothing left to revert.
 */
import { z } from 'zod';
import { outageFault } from './outage.ts';
import { terminate } from './pid.ts';

export const restart = outageFault(
  'restart',
  'terminates the target and returns once the supervisor restarted it and it is healthy',
  'signal SIGTERM + supervisor restart',
  z.strictObject({ grace_ms: z.number().int().min(0).max(120_000).default(5_000) }),
  (victim, p) => terminate(victim, p.grace_ms),
  true,
);
