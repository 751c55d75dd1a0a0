/**
 * pause: SIGSTOP to the target's process group (it keeps its sockets but answers nothing: a GC pause or a hung
 * VM seen from outside); revert sends SIGCONT. verify reads /proc/<pid>/stat: state 'T' while stopped. A process
 * that exited (or a pid reused since) counts as reverted: SIGCONT goes only to the journaled process.
 * A stopped process cannot expire its own pause, so the TTL is the controller's timer and, after a controller
 * crash, the reconcile of the next `faultline up`/`down`.
 */
import { z } from 'zod';
import { FaultlineError } from '../../../core/errors.ts';
import { defineInjector } from '../../injector.ts';
import { currentVictim, isSame, noPidFile, probeProcfs, procState, processTarget, signalVictim, type ProcessTarget, type Victim } from './pid.ts';

interface PauseHandle {
  target: ProcessTarget;
  victim: Victim | null;
}

function stopped(v: Victim): boolean {
  return isSame(v) && procState(v.pid) === 'T';
}

export const pause = defineInjector<Record<string, never>, PauseHandle>({
  type: 'pause',
  family: 'process',
  summary: 'freezes the target process group (SIGSTOP) until reverted (SIGCONT)',
  params: z.strictObject({}),
  unsupported: noPidFile,
  probe: probeProcfs,
  mechanism: () => 'signal SIGSTOP/SIGCONT (process group)',
  plan: (target) => {
    const t = processTarget(target);
    return { target: t, victim: currentVictim(t.pidFile) };
  },
  async apply(handle) {
    const victim = currentVictim(handle.target.pidFile);
    if (victim === null) throw new FaultlineError('INVALID_INPUT', `${handle.target.name} is not running (no live process in its pid record)`, { field: 'target' });
    handle.victim = victim;
    if (!signalVictim(victim, 'SIGSTOP')) throw new Error(`could not SIGSTOP pid ${victim.pid}`);
    // The stop is asynchronous in the kernel: wait until /proc shows it, so inject returns with the fault in effect.
    for (let i = 0; i < 200 && !stopped(victim); i++) await new Promise((r) => setImmediate(r));
  },
  async revert(handle) {
    if (handle.victim === null) return;
    signalVictim(handle.victim, 'SIGCONT');
    for (let i = 0; i < 200 && stopped(handle.victim); i++) await new Promise((r) => setImmediate(r));
  },
  async verify(handle) {
    return handle.victim !== null && stopped(handle.victim);
  },
});
