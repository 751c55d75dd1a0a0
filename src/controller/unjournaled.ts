/**
 * Toxics on the controller's own proxies that no journaled fault owns (every fault names its toxics
 * `faultline-<id>-…`): ones a toxiproxy client set through the toxiproxy API the controller's port also serves.
 * The chaos API lists them beside the faults and halt removes them, so there is one view of what is in effect.
 * They need no journal: they live in the controller's process, and a controller that dies takes them with it.
 *
 * @example createChaosApi(controller, { token, unjournaled: unjournaledToxics(proxies.registry) })
 */
import type { ProxyRegistry } from '../proxy/registry.ts';
import type { UnjournaledToxic, UnjournaledToxics } from './api.ts';

export function unjournaledToxics(registry: ProxyRegistry): UnjournaledToxics {
  const list = (): UnjournaledToxic[] =>
    registry.list().flatMap((p) => p.toxics.list().filter((t) => !t.name.startsWith('faultline-')).map((t) => ({ proxy: p.name, name: t.name, type: t.type, stream: t.stream })));
  return {
    list,
    async clear() {
      const found = list();
      // A toxic removed meanwhile (its TTL, a client) is gone either way.
      for (const t of found) await registry.get(t.proxy).removeToxic(t.name).catch(() => {});
      return found;
    },
  };
}
