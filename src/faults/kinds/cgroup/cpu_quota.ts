/**
 * cpu_quota: caps the target's process group at pct % of one CPU (CFS bandwidth: quota per 100 ms period),
 * e.g. pct 20 = 20 ms of CPU time per 100 ms; pct 150 = one and a half CPUs.
 */
import { cpus } from 'node:os';
import { z } from 'zod';
import { defineInjector } from '../../injector.ts';
import { applyCgroup, cgroupInEffect, planCgroup, readKeyed, revertCgroup, staticReason, type CgroupHandle } from './cgroup.linux.ts';

const PERIOD_US = 100_000;

export const cpuQuota = defineInjector<{ pct: number }, CgroupHandle>({
  type: 'cpu_quota',
  family: 'cgroup',
  summary: 'limits the target process group to pct % of one CPU (cgroup CFS quota)',
  params: z.strictObject({ pct: z.number().min(1).max(100 * cpus().length) }),
  unsupported: (t) => (t.pidFile ? staticReason('cpu') : `${t.name} has no process record to act on`),
  probe: async () => staticReason('cpu'),
  mechanism: () => 'cgroup cpu quota',
  plan: (target, p, ctx) =>
    planCgroup(target, 'cpu', ctx.id, (h): Record<string, string> => {
      const quota = String(Math.round((p.pct / 100) * PERIOD_US));
      return h.version === 1 ? { 'cpu.cfs_period_us': String(PERIOD_US), 'cpu.cfs_quota_us': quota } : { 'cpu.max': `${quota} ${PERIOD_US}` };
    }),
  apply: async (handle) => applyCgroup(handle),
  revert: revertCgroup,
  verify: async (handle) => cgroupInEffect(handle),
  // How often the quota bit: CFS periods run, periods throttled, and the time the group waited for its quota.
  observe: async (h) => {
    const s = readKeyed(h.dir, 'cpu.stat');
    const waited = h.version === 1 ? (s.throttled_time ?? NaN) / 1e9 : (s.throttled_usec ?? NaN) / 1e6;
    return {
      ...(s.nr_periods !== undefined ? { periods: s.nr_periods } : {}),
      ...(s.nr_throttled !== undefined ? { throttled_periods: s.nr_throttled } : {}),
      ...(Number.isFinite(waited) ? { throttled_s: Math.round(waited * 100) / 100 } : {}),
    };
  },
});
