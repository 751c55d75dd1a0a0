/**
 * The watchdog runs from a prebuilt bundle, so it starts in a fraction of a second and needs neither tsx nor a
 * compile at the moment the controller dies. `scripts/setup.sh` builds it (scripts/build.ts); `faultline up`
 * rebuilds it only when one of its inputs changed since (a developer edited a source), from the input list the
 * build writes beside it. An installed package ships the bundle and no sources: then the bundle stands.
 *
 *   src/supervisor/watchdog-main.ts ─esbuild (core/bundle.ts)─▶ dist/watchdog.mjs + dist/watchdog.inputs.json
 */
import { selfContainedBundle } from '../core/bundle.ts';

const WATCHDOG = selfContainedBundle({
  name: 'watchdog',
  what: 'the watchdog',
  entry: 'src/supervisor/watchdog-main.ts',
  // CommonJS dependencies bundled into ESM still call require() for Node's built-ins.
  banner: "import { createRequire as __flCreateRequire } from 'node:module'; const require = __flCreateRequire(import.meta.url);",
});

export const WATCHDOG_BUNDLE = WATCHDOG.path;

/** Bundles the watchdog; returns the bundle's path. */
export const buildWatchdog = (): Promise<string> => WATCHDOG.build();

/** Why the bundle must be (re)built, or null when it is current. */
export const bundleStale = (): string | null => WATCHDOG.stale();

/** The bundle's path, built first when it is missing or stale. */
export const ensureWatchdogBundle = (log?: (line: string) => void): Promise<string> => WATCHDOG.ensure(log);
