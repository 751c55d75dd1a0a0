/**
 * The watchdog runs from a prebuilt bundle, so it starts in a fraction of a second and needs neither tsx nor a
 * compile at the moment the controller dies. `scripts/setup.sh` builds it (scripts/build.ts); `faultline up`
 * rebuilds it only when one of its inputs changed since (a developer edited a source), from the input list the
 * build writes beside it. An installed package ships the bundle and no sources: then the bundle stands.
 *
 *   src/supervisor/watchdog-main.ts ─esbuild (bundle, node20, esm)─▶ dist/watchdog.mjs + dist/watchdog.inputs.json
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaultlineError } from '../core/errors.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const WATCHDOG_BUNDLE = join(ROOT, 'dist', 'watchdog.mjs');
const INPUTS = join(ROOT, 'dist', 'watchdog.inputs.json');

/** Bundles the watchdog; returns the bundle's path. */
export async function buildWatchdog(): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new FaultlineError('CAPABILITY_MISSING', 'cannot build the watchdog: esbuild is not installed', { hint: 'run `bash scripts/setup.sh`' });
  }
  mkdirSync(dirname(WATCHDOG_BUNDLE), { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'src/supervisor/watchdog-main.ts')],
    outfile: WATCHDOG_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    metafile: true,
    logLevel: 'warning',
    // CommonJS dependencies bundled into ESM still call require() for Node's built-ins.
    banner: { js: "import { createRequire as __flCreateRequire } from 'node:module'; const require = __flCreateRequire(import.meta.url);" },
  });
  const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(ROOT, p));
  writeFileSync(INPUTS, `${JSON.stringify(inputs)}\n`);
  return WATCHDOG_BUNDLE;
}

/** Why the bundle must be (re)built, or null when it is current. */
export function bundleStale(): string | null {
  if (!existsSync(WATCHDOG_BUNDLE)) return 'no bundle yet';
  let inputs: string[];
  try {
    inputs = JSON.parse(readFileSync(INPUTS, 'utf8')) as string[];
  } catch {
    return null; // shipped without its input list: nothing to compare against
  }
  const built = statSync(WATCHDOG_BUNDLE).mtimeMs;
  const changed = inputs.find((p) => {
    try {
      return statSync(p).mtimeMs > built;
    } catch {
      return false; // an input that is not here (an installed package has no sources)
    }
  });
  return changed === undefined ? null : `${changed} changed since the last build`;
}

/** The bundle's path, built first when it is missing or stale. */
export async function ensureWatchdogBundle(log: (line: string) => void = () => {}): Promise<string> {
  const why = bundleStale();
  if (why === null) return WATCHDOG_BUNDLE;
  const t0 = Date.now();
  await buildWatchdog();
  log(`built the watchdog (${why}) in ${Date.now() - t0} ms`);
  return WATCHDOG_BUNDLE;
}
