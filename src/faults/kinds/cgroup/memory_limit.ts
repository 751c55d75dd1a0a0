/**
 * memory_limit: caps the target's process group at mb MiB of memory (v1 memory.limit_in_bytes, v2 memory.max):
 * the kernel reclaims, then OOM-kills inside the group when it cannot. Memory already charged elsewhere before
 * the move stays charged there (v1 does not migrate charges: memory.move_charge_at_immigrate is deprecated, and
 * kernel 6.18 refuses any non-zero value with EINVAL), so the cap bites on new allocations: pair it with a leak
 * (the agent's heap_growth, `concurrent: true`) to squeeze a warm process.
 */
import { z } from 'zod';
import { defineInjector } from '../../injector.ts';
import { applyCgroup, cgroupInEffect, planCgroup, readKeyed, readNumber, revertCgroup, staticReason, type CgroupHandle } from './cgroup.linux.ts';

export const memoryLimit = defineInjector<{ mb: number }, CgroupHandle>({
  type: 'memory_limit',
  family: 'cgroup',
  summary: 'caps the memory the target process group allocates from the move on at mb MiB (cgroup memory limit; what it held before stays charged where it was)',
  params: z.strictObject({ mb: z.number().int().min(8).max(1_048_576) }),
  unsupported: (t) => (t.pidFile ? staticReason('memory') : `${t.name} has no process record to act on`),
  probe: async () => staticReason('memory'),
  mechanism: () => 'cgroup memory limit',
  plan: (target, p, ctx) =>
    planCgroup(target, 'memory', ctx.id, (h): Record<string, string> => {
      const bytes = String(p.mb * 1024 * 1024);
      return h.version === 1 ? { 'memory.limit_in_bytes': bytes } : { 'memory.max': bytes };
    }),
  apply: async (handle) => applyCgroup(handle),
  revert: revertCgroup,
  verify: async (handle) => cgroupInEffect(handle),
  // The kernel's count of OOM kills inside the cap, and the most the group held under it.
  observe: async (h) => {
    const events = h.version === 1 ? readKeyed(h.dir, 'memory.oom_control') : readKeyed(h.dir, 'memory.events');
    const peak = readNumber(h.dir, h.version === 1 ? 'memory.max_usage_in_bytes' : 'memory.peak');
    return { ...(events.oom_kill !== undefined ? { oom_kills: events.oom_kill } : {}), ...(peak !== undefined ? { peak_mib: Math.round((peak / 2 ** 20) * 10) / 10 } : {}) };
  },
});
