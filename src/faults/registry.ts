/** The fault types by name, built from every family; a name registered twice fails at start-up. */
import type { Injector } from './injector.ts';
import { FAMILIES } from './kinds/index.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyInjector = Injector<any, any>;

export function buildFaultRegistry(families: readonly (readonly AnyInjector[])[] = FAMILIES): ReadonlyMap<string, AnyInjector> {
  const map = new Map<string, AnyInjector>();
  for (const injector of families.flat()) {
    if (map.has(injector.type)) throw new Error(`fault type registered twice: ${injector.type}`);
    map.set(injector.type, injector);
  }
  return map;
}

export const FAULT_TYPES: ReadonlyMap<string, AnyInjector> = buildFaultRegistry();
