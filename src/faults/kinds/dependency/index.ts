/** The dependency family: failures a dependency produces itself, through its control endpoint. One file per type + one line here. */
import type { Injector } from '../../injector.ts';
import { dependencyError } from './dependency_error.ts';
import { dependencyHang } from './dependency_hang.ts';
import { dependencyTimeout } from './dependency_timeout.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const DEPENDENCY: readonly Injector<any, any>[] = [dependencyError, dependencyTimeout, dependencyHang];
