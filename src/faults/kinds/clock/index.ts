/** The clock family: wall-clock skew of a running process. One file per type + one line here. */
import type { Injector } from '../../injector.ts';
import { clockSkew } from './clock_skew.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const CLOCK: readonly Injector<any, any>[] = [clockSkew];
