/** The network family: faults carried by the target's fault proxy. One file per type + one line here. */
import type { Injector } from '../../injector.ts';
import { bandwidth } from './bandwidth.ts';
import { down } from './down.ts';
import { jitter } from './jitter.ts';
import { latency } from './latency.ts';
import { loss } from './loss.ts';
import { reset } from './reset.ts';
import { slowClose } from './slow_close.ts';
import { timeout } from './timeout.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const NETWORK: readonly Injector<any, any>[] = [latency, jitter, bandwidth, loss, reset, slowClose, timeout, down];
