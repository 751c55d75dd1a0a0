/** The disk family: filling a size-bounded data volume. One file per type + one line here. */
import type { Injector } from '../../injector.ts';
import { diskFill } from './disk_fill.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const DISK: readonly Injector<any, any>[] = [diskFill];
