/** Every fault family; adding a family = one folder under kinds/ + one line here. */
import type { Injector } from '../injector.ts';
import { NETWORK } from './network/index.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const FAMILIES: readonly (readonly Injector<any, any>[])[] = [NETWORK];
