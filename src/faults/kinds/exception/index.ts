/** The exception family: failures thrown inside a lab service's code, through its in-process hook. One file per type + one line here. */
import type { Injector } from '../../injector.ts';
import { exception } from './exception.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const EXCEPTION: readonly Injector<any, any>[] = [exception];
