/** kill: SIGKILL to the target's current process group — a crash with no chance to drain. See outage.ts. */
import { z } from 'zod';
import { outageFault } from './outage.ts';
import { signalVictim, waitGone } from './pid.ts';

export const kill = outageFault('kill', 'SIGKILLs the target process; in effect until the supervisor brings it back healthy', 'signal SIGKILL (process group)', z.strictObject({}), async (victim) => {
  signalVictim(victim, 'SIGKILL');
  await waitGone(victim, 2_000);
});
