/**
 * Every load executor, one file each. Adding an executor = one file in this folder + one line here.
 */
import type { ExecutorDefinition } from './executor.ts';
import { breakpoint } from './breakpoint.ts';
import { constant } from './constant.ts';
import { ramping } from './ramping.ts';

const ALL: readonly ExecutorDefinition[] = [
  constant,
  ramping,
  breakpoint,
];

export const EXECUTORS: ReadonlyMap<string, ExecutorDefinition> = buildRegistry(ALL);

function buildRegistry(defs: readonly ExecutorDefinition[]): Map<string, ExecutorDefinition> {
  const map = new Map<string, ExecutorDefinition>();
  for (const def of defs) {
    if (map.has(def.name)) throw new Error(`load executor registered twice: ${def.name}`);
    map.set(def.name, def);
  }
  return map;
}
