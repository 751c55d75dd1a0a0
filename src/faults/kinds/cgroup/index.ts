/** The cgroup (resource) family: CPU quota, memory limit, CPU noisy neighbour. One file per type + one line here. */
import type { Injector } from '../../injector.ts';
import { cpuBurner } from './cpu_burner.ts';
import { cpuQuota } from './cpu_quota.ts';
import { memoryLimit } from './memory_limit.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const CGROUP: readonly Injector<any, any>[] = [cpuQuota, memoryLimit, cpuBurner];
