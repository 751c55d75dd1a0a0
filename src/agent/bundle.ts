/**
 * The agent runs from one self-contained file, dist/agent.mjs: the processes it is loaded into have their own
 * node_modules (or none), so it may import nothing but Node's built-ins, and it must start in milliseconds with no
 * TypeScript compiled. `scripts/build.ts` builds it (it is what `faultline/agent` exports); the supervisor
 * rebuilds it before starting an `agent: true` service when a source changed since (a developer's checkout).
 *
 *   src/agent/register.ts ─esbuild (bundle, node20, esm)─▶ dist/agent.mjs + dist/agent.inputs.json
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaultlineError } from '../core/errors.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const AGENT_BUNDLE = join(ROOT, 'dist', 'agent.mjs');
const INPUTS = join(ROOT, 'dist', 'agent.inputs.json');

/** Bundles the agent; returns the bundle's path. */
export async function buildAgent(): Promise<string> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new FaultlineError('CAPABILITY_MISSING', 'cannot build the agent: esbuild is not installed', { hint: 'run `bash scripts/setup.sh`' });
  }
  mkdirSync(dirname(AGENT_BUNDLE), { recursive: true });
  // Written beside and renamed over: a process starting with --import meanwhile reads the old file or the new one.
  const tmp = `${AGENT_BUNDLE}.${process.pid}.tmp`;
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'src/agent/register.ts')],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    metafile: true,
    logLevel: 'warning',
  });
  const imported = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external && !i.path.startsWith('node:')).map((i) => i.path));
  if (imported.length > 0) rmSync(tmp, { force: true });
  if (imported.length > 0) throw new FaultlineError('INTERNAL', `the agent bundle must import only node: built-ins, but imports ${imported.join(', ')}`);
  renameSync(tmp, AGENT_BUNDLE);
  writeFileSync(INPUTS, `${JSON.stringify(Object.keys(result.metafile.inputs).map((p) => resolve(ROOT, p)))}\n`);
  return AGENT_BUNDLE;
}

/** Why the bundle must be (re)built, or null when it is current. */
function stale(): string | null {
  if (!existsSync(AGENT_BUNDLE)) return 'no bundle yet';
  let inputs: string[];
  try {
    inputs = JSON.parse(readFileSync(INPUTS, 'utf8')) as string[];
  } catch {
    return null; // shipped without its input list (an installed package): the bundle stands
  }
  const built = statSync(AGENT_BUNDLE).mtimeMs;
  const changed = inputs.find((p) => {
    try {
      return statSync(p).mtimeMs > built;
    } catch {
      return false;
    }
  });
  return changed === undefined ? null : `${changed} changed since the last build`;
}

/** The bundle's path, built first when it is missing or stale. */
export async function ensureAgentBundle(log: (line: string) => void = () => {}): Promise<string> {
  const why = stale();
  if (why === null) return AGENT_BUNDLE;
  const t0 = Date.now();
  await buildAgent();
  log(`built the runtime agent (${why}) in ${Date.now() - t0} ms`);
  return AGENT_BUNDLE;
}
