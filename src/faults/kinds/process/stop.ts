/**
 * stop: the target's process is SIGKILLed and kept down until the fault is reverted — an outage that lasts as
 * long as the fault, not as long as a restart takes. A hold file beside its pid record (`<name>.hold`) tells the
 * supervisor not to bring it back; revert removes the hold and waits for the replacement to be healthy.
 *
 *   apply  ─▶ write <pids>/<name>.hold ─▶ SIGKILL ─▶ gone        verify: hold present, or not yet replaced
 *   revert ─▶ remove the hold ─▶ supervisor restarts it ─▶ wait until healthy (outage.ts)
 *
 * With no live supervisor (the controller died), removing the hold is the whole revert: the lab's restart brings
 * the service back. The hold has no TTL of its own: the controller's timer and the watchdog end it.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { holdFileFor } from '../../../core/process.ts';
import { defineInjector } from '../../injector.ts';
import { outageFault, type OutageHandle } from './outage.ts';
import { signalVictim, waitGone } from './pid.ts';

const outage = outageFault('stop', '', 'hold + signal SIGKILL (process group)', z.strictObject({}), async (victim) => {
  signalVictim(victim, 'SIGKILL');
  await waitGone(victim, 2_000);
});

export const stop = defineInjector<Record<string, never>, OutageHandle>({
  ...outage,
  summary: 'SIGKILLs the target process and keeps it down (the supervisor holds its restart) until reverted',
  async apply(handle, p, ctx) {
    writeFileSync(holdFileFor(handle.target.pidFile), `held by a stop fault (${ctx.id})\n`);
    await outage.apply(handle, p, ctx);
  },
  async revert(handle) {
    rmSync(holdFileFor(handle.target.pidFile), { force: true });
    await outage.revert(handle);
  },
  async verify(handle) {
    return existsSync(holdFileFor(handle.target.pidFile)) || (await outage.verify(handle));
  },
});
