/**
 * The shared shape of kill, terminate and restart: a process is stopped now, and the supervisor brings a new one
 * back. The fault is "in effect" for exactly the outage:
 *
 *   verify = the stopped process is gone AND no new healthy instance has replaced it yet
 *   revert = nothing to undo (a signal cannot be taken back): wait up to 30 s for the replacement, so a revert
 *            that returns means the service is back; if it never comes back, the revert fails and is retried
 *
 * plan journals the process the record names at plan time; apply re-reads the record (the supervisor may have
 * restarted it since) and writes the process it really signalled into the handle, which the controller then
 * journals with the injected record.
 */
import { z } from 'zod';
import { FaultlineError } from '../../../core/errors.ts';
import { defineInjector, type Injector } from '../../injector.ts';
import { currentVictim, isSame, noPidFile, probeProcfs, processTarget, replacement, supervisorAlive, waitReplaced, type ProcessTarget, type Victim } from './pid.ts';

export interface OutageHandle {
  target: ProcessTarget;
  victim: Victim | null;
}

/** How long a revert waits for the supervisor's replacement before reporting failure (the controller retries). */
export const BACK_TIMEOUT_MS = 30_000;

/**
 * Builds one outage fault type: `stop` ends the victim (SIGKILL, or SIGTERM with grace); `waitBack` makes
 * apply return only once the replacement is healthy (restart).
 */
export function outageFault<S extends z.ZodTypeAny>(
  type: string,
  summary: string,
  mechanism: string,
  params: S,
  stop: (victim: Victim, p: z.output<S>) => Promise<void>,
  waitBack = false,
): Injector<z.output<S>, OutageHandle> {
  return defineInjector<z.output<S>, OutageHandle>({
    type,
    family: 'process',
    summary,
    params: params as z.ZodType<z.output<S>>,
    unsupported: noPidFile,
    probe: probeProcfs,
    mechanism: () => mechanism,
    plan: (target) => {
      const t = processTarget(target);
      return { target: t, victim: currentVictim(t.pidFile) };
    },
    async apply(handle, p) {
      const victim = currentVictim(handle.target.pidFile);
      if (victim === null) throw new FaultlineError('INVALID_INPUT', `${handle.target.name} is not running (no live process in its pid record)`, { field: 'target' });
      handle.victim = victim;
      await stop(victim, p);
      if (isSame(victim)) throw new Error(`pid ${victim.pid} of ${handle.target.name} is still running after the signal`);
      if (waitBack && (await waitReplaced(handle.target, victim, BACK_TIMEOUT_MS)) === null) {
        throw new Error(`${handle.target.name} did not come back healthy within ${BACK_TIMEOUT_MS} ms`);
      }
    },
    async revert(handle) {
      if (handle.victim === null) return;
      // A victim still alive means apply never signalled it: nothing happened, nothing to wait for.
      if (isSame(handle.victim)) return;
      // No supervisor left to bring it back (the controller died): the outage ends when the lab restarts.
      if (!supervisorAlive(handle.target)) return;
      if ((await waitReplaced(handle.target, handle.victim, BACK_TIMEOUT_MS)) === null) {
        throw new Error(`${handle.target.name} is not back yet (no new healthy process replaced pid ${handle.victim.pid})`);
      }
    },
    async verify(handle) {
      if (handle.victim === null || isSame(handle.victim)) return false;
      if (!supervisorAlive(handle.target)) return false;
      return (await replacement(handle.target, handle.victim)) === null;
    },
  });
}
