/** Every fault family; adding a family = one folder under kinds/ + one line here. */
import type { Injector } from '../injector.ts';
import { NETWORK } from './network/index.ts';
import { CGROUP } from './cgroup/index.ts';
import { CLOCK } from './clock/index.ts';
import { DISK } from './disk/index.ts';
import { NFTABLES } from './nftables/index.ts';
import { PROCESS } from './process/index.ts';
import { DEPENDENCY } from './dependency/index.ts';
import { HTTP } from './http/index.ts';
import { AGENT } from './agent/index.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const FAMILIES: readonly (readonly Injector<any, any>[])[] = [NETWORK, NFTABLES, CGROUP, DISK, CLOCK, PROCESS, DEPENDENCY, HTTP, AGENT];
