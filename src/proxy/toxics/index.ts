/**
 * Every toxic the proxy knows, one file each. Adding a toxic = one file in this folder + one line here.
 * Names are toxiproxy's where toxiproxy has the toxic, so its clients drive these unchanged.
 */
import type { ToxicDefinition } from '../toxic.ts';
import { bandwidth } from './bandwidth.ts';
import { httpFault } from './http_fault.ts';
import { latency } from './latency.ts';
import { limitData } from './limit_data.ts';
import { loss } from './loss.ts';
import { noop } from './noop.ts';
import { resetPeer } from './reset_peer.ts';
import { slicer } from './slicer.ts';
import { slowClose } from './slow_close.ts';
import { timeout } from './timeout.ts';

// Each toxic is typed by its own attributes; the registry only needs the common shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const ALL: readonly ToxicDefinition<any, any>[] = [
  latency,
  bandwidth,
  slowClose,
  timeout,
  resetPeer,
  slicer,
  limitData,
  noop,
  loss,
  httpFault,
];

export const TOXICS: ReadonlyMap<string, ToxicDefinition> = buildRegistry(ALL);

function buildRegistry(defs: readonly ToxicDefinition[]): Map<string, ToxicDefinition> {
  const map = new Map<string, ToxicDefinition>();
  for (const def of defs) {
    if (map.has(def.type)) throw new Error(`toxic type registered twice: ${def.type}`);
    map.set(def.type, def);
  }
  return map;
}
