/** The agent family: faults carried by the runtime agent inside a Node process (src/agent). One file per type + one line here. */
import type { Injector } from '../../injector.ts';
import { call_error } from './call_error.ts';
import { call_latency } from './call_latency.ts';
import { event_loop_block } from './event_loop_block.ts';
import { heap_growth } from './heap_growth.ts';
import { route_exception } from './route_exception.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const AGENT: readonly Injector<any, any>[] = [route_exception, call_latency, call_error, event_loop_block, heap_growth];
