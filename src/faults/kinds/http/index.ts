/** The http family: per-request faults on any HTTP/1.1 target, in its fault proxy. One file per type + one line here. */
import type { Injector } from '../../injector.ts';
import { httpDelay } from './http_delay.ts';
import { httpError } from './http_error.ts';
import { httpHang } from './http_hang.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const HTTP: readonly Injector<any, any>[] = [httpError, httpDelay, httpHang];
