/** The process family: signals to a supervised target's process (read from its pid record). One file per type + one line here. */
import type { Injector } from '../../injector.ts';
import { kill } from './kill.ts';
import { pause } from './pause.ts';
import { restart } from './restart.ts';
import { rollingRestart } from './rolling_restart.ts';
import { stop } from './stop.ts';
import { terminate } from './terminate.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const PROCESS: readonly Injector<any, any>[] = [kill, terminate, pause, restart, rollingRestart, stop];
