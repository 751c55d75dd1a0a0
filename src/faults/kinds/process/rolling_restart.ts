/**
 * rolling_restart: restarts every instance of a group, one at a time, waiting for each replacement to be healthy
 * before touching the next — a deploy, as the rest of the system sees it. Each instance gets SIGTERM (the lab's
 * services stop accepting and close their connections: their drain), then SIGKILL after grace_ms.
 *
 * Group naming: the group of a target is every pid record beside its own named `<base>-<n>`, where `<base>` is
 * the target's name without a trailing `-<n>`. So `rolling_restart orders-1` rolls orders-1 then orders-2; a
 * target registered as `orders` (pid record path `pids/orders.json`, which need not exist) rolls the same group.
 *
 * Inject returns when the roll is over; verify is true while some member the roll touched is not back healthy.
 */
import { readdirSync } from 'node:fs';
import { z } from 'zod';
import { FaultlineError } from '../../../core/errors.ts';
import { defineInjector } from '../../injector.ts';
import { currentVictim, groupMembers, isSame, noPidFile, probeProcfs, type ProcessTarget, processTarget, replacement, supervisorAlive, terminate, type Victim, waitReplaced } from './pid.ts';

interface RollHandle {
  members: { target: ProcessTarget; victim: Victim | null }[];
}

const Params = z.strictObject({
  grace_ms: z.number().int().min(0).max(120_000).default(5_000),
  /** How long one instance may take to come back healthy before the roll stops (failing the inject). */
  health_timeout_ms: z.number().int().min(100).max(300_000).default(30_000),
});

export const rollingRestart = defineInjector<z.output<typeof Params>, RollHandle>({
  type: 'rolling_restart',
  family: 'process',
  summary: 'restarts each instance of a group (orders-1, orders-2, …) in turn, waiting for health before the next',
  params: Params,
  unsupported: noPidFile,
  probe: probeProcfs,
  mechanism: () => 'signal SIGTERM per instance + supervisor restart, one at a time',
  plan: (target) => {
    const members = groupMembers(processTarget(target), (d) => readdirSync(d));
    return { members: members.map((m) => ({ target: m, victim: currentVictim(m.pidFile) })) };
  },
  async apply(handle, p, ctx) {
    if (handle.members.length === 0) throw new FaultlineError('INVALID_INPUT', 'no running instance in the group', { field: 'target' });
    for (const member of handle.members) {
      // A halt stops the roll between instances: the ones restarted so far are reverted (waited back), no more go.
      ctx.signal?.throwIfAborted();
      const victim = currentVictim(member.target.pidFile);
      member.victim = victim;
      if (victim === null) continue; // down already: the supervisor is on it; restarting it again helps nobody
      await terminate(victim, p.grace_ms);
      if ((await waitReplaced(member.target, victim, p.health_timeout_ms)) === null) {
        throw new Error(`${member.target.name} did not come back healthy within ${p.health_timeout_ms} ms; roll stopped`);
      }
    }
  },
  async revert(handle) {
    for (const m of handle.members) {
      // Without a live supervisor nothing brings it back until the lab restarts: nothing left to wait for.
      if (m.victim === null || isSame(m.victim) || !supervisorAlive(m.target)) continue;
      if ((await waitReplaced(m.target, m.victim, 30_000)) === null) throw new Error(`${m.target.name} is not back yet`);
    }
  },
  async verify(handle) {
    for (const m of handle.members) {
      if (m.victim === null || isSame(m.victim) || !supervisorAlive(m.target)) continue;
      if ((await replacement(m.target, m.victim)) === null) return true;
    }
    return false;
  },
});
