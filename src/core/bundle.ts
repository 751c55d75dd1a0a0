/**
 * A self-contained ESM bundle of one entry file, built with esbuild into dist/, and its staleness check: the
 * build writes the list of its inputs beside the bundle, and a developer's checkout rebuilds it only when one of
 * them changed since. An installed package ships the bundle without its sources (or its input list): then the
 * bundle stands. The watchdog and the runtime agent are two such bundles.
 *
 *   <entry>.ts ─esbuild (bundle, node20, esm)─▶ dist/<name>.mjs + dist/<name>.inputs.json
 *
 * @example const agent = selfContainedBundle({ name: 'agent', what: 'the runtime agent', entry: 'src/agent/register.ts' });
 *          await agent.ensure(log);
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaultlineError } from './errors.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BundleSpec {
  /** dist/<name>.mjs */
  name: string;
  /** For messages: "the watchdog". */
  what: string;
  /** Entry file, relative to the repository root. */
  entry: string;
  /** Prepended to the bundle (e.g. a require() shim for bundled CommonJS). */
  banner?: string;
  /** Refuse a bundle that imports anything but node: built-ins (it runs inside processes with other modules). */
  builtinsOnly?: boolean;
}

export interface Bundle {
  readonly path: string;
  /** Builds it; returns its path. */
  build(): Promise<string>;
  /** Why it must be (re)built, or null when it is current. */
  stale(): string | null;
  /** Its path, built first when it is missing or stale. */
  ensure(log?: (line: string) => void): Promise<string>;
}

export function selfContainedBundle(spec: BundleSpec): Bundle {
  const path = join(ROOT, 'dist', `${spec.name}.mjs`);
  const inputsFile = join(ROOT, 'dist', `${spec.name}.inputs.json`);
  const build = async (): Promise<string> => {
    let esbuild: typeof import('esbuild');
    try {
      esbuild = await import('esbuild');
    } catch {
      throw new FaultlineError('CAPABILITY_MISSING', `cannot build ${spec.what}: esbuild is not installed`, { hint: 'run `bash scripts/setup.sh`' });
    }
    mkdirSync(dirname(path), { recursive: true });
    // Written beside and renamed over: a process starting from the bundle meanwhile reads the old file or the new one.
    const tmp = `${path}.${process.pid}.tmp`;
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: [join(ROOT, spec.entry)],
      outfile: tmp,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      metafile: true,
      logLevel: 'warning',
      ...(spec.banner ? { banner: { js: spec.banner } } : {}),
    });
    if (spec.builtinsOnly) {
      const imported = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external && !i.path.startsWith('node:')).map((i) => i.path));
      if (imported.length > 0) {
        rmSync(tmp, { force: true });
        throw new FaultlineError('INTERNAL', `${spec.what} bundle must import only node: built-ins, but imports ${imported.join(', ')}`);
      }
    }
    renameSync(tmp, path);
    writeFileSync(inputsFile, `${JSON.stringify(Object.keys(result.metafile.inputs).map((p) => resolve(ROOT, p)))}\n`);
    return path;
  };
  const stale = (): string | null => {
    if (!existsSync(path)) return 'no bundle yet';
    let inputs: string[];
    try {
      inputs = JSON.parse(readFileSync(inputsFile, 'utf8')) as string[];
    } catch {
      return null; // shipped without its input list (an installed package): the bundle stands
    }
    const built = statSync(path).mtimeMs;
    const changed = inputs.find((p) => {
      try {
        return statSync(p).mtimeMs > built;
      } catch {
        return false; // an input that is not here (an installed package has no sources)
      }
    });
    return changed === undefined ? null : `${changed} changed since the last build`;
  };
  return {
    path,
    build,
    stale,
    async ensure(log = () => {}) {
      const why = stale();
      if (why === null) return path;
      const t0 = Date.now();
      await build();
      log(`built ${spec.what} (${why}) in ${Date.now() - t0} ms`);
      return path;
    },
  };
}
