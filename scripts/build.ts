/**
 * The project's build step (run by scripts/setup.sh, and by `npm pack` through `prepack`): what must run without
 * compiling TypeScript at run time, and the package's types.
 *
 *   src/cli/main.ts ──┐                                      ┌─▶ dist/esm/cli.mjs      bin/faultline runs it
 *   src/index.ts ─────┴─ esbuild (bundle, split, node20) ────┼─▶ dist/esm/index.mjs    `import … from 'faultline'`
 *                                                            └─▶ dist/esm/chunk-*.mjs  shared code, and each command's
 *                                                                                      implementation (loaded on use)
 *   src/dashboard/static/ ── copied ──▶ dist/esm/static/
 *   src/index.ts ── tsc (emitDeclarationOnly) ──▶ dist/types/**\/*.d.ts
 *   src/supervisor/watchdog-main.ts ──▶ dist/watchdog.mjs (buildWatchdog)
 *   src/agent/register.ts ──▶ dist/agent.mjs (buildAgent: self-contained, node: built-ins only) `--import faultline/agent`
 *   dist/build.json: every input of dist/esm with its mtime — what bin/faultline checks before trusting dist/esm
 *
 * dist/esm sits two levels below the package root, like every module under src/<area>/: modules find the root
 * as `new URL('../../', import.meta.url)` (package.json, bin/, lab/), and that stays true in the bundle.
 * Dependencies stay external (node_modules), so the library shares them with its user's own copies.
 *
 * Usage: node --import tsx scripts/build.ts [--clean]
 *   --clean  remove every file of dist/esm this build did not write (prepack: the tarball holds one build).
 *            Without it the previous build's chunks stay too, so a process started from it (a running lab's
 *            controller) can still load the commands it has not loaded yet.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import ts from 'typescript';
import { buildWatchdog } from '../src/supervisor/watchdog-bundle.ts';
import { buildAgent } from '../src/agent/bundle.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const ESM = join(ROOT, 'dist/esm');
const TYPES = join(ROOT, 'dist/types');
const MANIFEST = join(ROOT, 'dist/build.json');
const STATIC = 'src/dashboard/static';

/** dist/build.json, read by bin/faultline. A build under way or failed leaves it without `inputs`. */
export interface BuildManifest {
  /** mtime of this file when the build began, on the file system's own clock: an input as new is stale. */
  started_mtime_ms: number;
  /** Each input (relative to the root) and its mtime when the build ended: any other mtime is stale. */
  inputs: Record<string, number>;
  /** The files of dist/esm this build wrote. */
  outputs: string[];
}

const { values: flags } = parseArgs({ options: { clean: { type: 'boolean', default: false } } });

async function step<T>(name: string, run: () => T | Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await run();
  console.log(`build: ${name} (${(performance.now() - t0).toFixed(0)} ms)`);
  return result;
}

const bundleCommander: esbuild.Plugin = {
  name: 'bundle-commander',
  setup(build) {
    build.onResolve({ filter: /^commander$/ }, () => ({ path: createRequire(import.meta.url).resolve('commander') }));
  },
};

/** Bundles the CLI and the library into dist/esm; returns the manifest that says what it was built from. */
async function buildEsm(): Promise<BuildManifest> {
  const previous = readManifest();
  mkdirSync(ESM, { recursive: true });
  // Written first: until the build ends, bin/faultline finds no inputs here and runs the sources.
  writeFileSync(MANIFEST, '{"building":true}\n');
  const started = statSync(MANIFEST).mtimeMs;
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { cli: 'src/cli/main.ts', index: 'src/index.ts' },
    outdir: ESM,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    // commander is the one dependency every start loads: bundled, Node parses one ESM file instead of resolving,
    // lexing and loading a CommonJS package (about a fifth of `--help`'s start-up; bench/cli.ts).
    plugins: [bundleCommander],
    // …and it is CommonJS: its require('node:events') needs a require in the ESM bundle.
    banner: { js: "import { createRequire as __faultlineRequire } from 'node:module'; const require = __faultlineRequire(import.meta.url);" },
    metafile: true,
    logLevel: 'warning',
  });
  rmSync(join(ESM, 'static'), { recursive: true, force: true });
  cpSync(join(ROOT, STATIC), join(ESM, 'static'), { recursive: true });
  const outputs = [
    ...Object.keys(result.metafile.outputs).map((p) => relative(ROOT, resolve(ROOT, p))),
    ...readdirSync(join(ROOT, STATIC)).map((f) => `dist/esm/static/${f}`),
  ];
  const keep = new Set([...outputs, ...(flags.clean ? [] : (previous?.outputs ?? []))]);
  for (const f of readdirSync(ESM)) {
    if (f.endsWith('.mjs') && !keep.has(`dist/esm/${f}`)) rmSync(join(ESM, f));
  }
  const sources = [
    ...Object.keys(result.metafile.inputs).map((p) => relative(ROOT, resolve(ROOT, p))),
    ...readdirSync(join(ROOT, STATIC)).map((f) => `${STATIC}/${f}`),
  ];
  const inputs = Object.fromEntries(sources.sort().map((p) => [p, statSync(join(ROOT, p)).mtimeMs]));
  const manifest: BuildManifest = { started_mtime_ms: started, inputs, outputs };
  writeFileSync(MANIFEST, `${JSON.stringify(manifest, null, 1)}\n`);
  return manifest;
}

function readManifest(): BuildManifest | undefined {
  try {
    const m = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Partial<BuildManifest>;
    return m.inputs && m.outputs ? (m as BuildManifest) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The library's declarations, from the same tsconfig as the type check. Incremental (dist/types.tsbuildinfo,
 * not shipped): declaration emit type-checks the library's whole graph, and a rebuild with few changes then
 * costs a fraction of that. Declarations of sources that no longer exist are removed.
 */
function buildTypes(): number {
  const fail = (d: readonly ts.Diagnostic[]): never => {
    throw new Error(ts.formatDiagnostics(d, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' }));
  };
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => fail([d]),
  });
  if (config === undefined) throw new Error('cannot read tsconfig.json');
  const program = ts.createIncrementalProgram({
    rootNames: [join(ROOT, 'src/index.ts')],
    options: {
      ...config.options,
      noEmit: false,
      declaration: true,
      emitDeclarationOnly: true,
      // A .d.ts keeps the sources' `./x.ts` specifiers; a user's TypeScript resolves them to the `./x.d.ts` beside.
      rewriteRelativeImportExtensions: true,
      rootDir: join(ROOT, 'src'),
      outDir: TYPES,
      incremental: true,
      tsBuildInfoFile: join(ROOT, 'dist/types.tsbuildinfo'),
    },
  });
  const emitted = program.emit();
  if (emitted.emitSkipped || emitted.diagnostics.length > 0) fail(emitted.diagnostics);
  const sources = program.getSourceFiles().filter((f) => !f.isDeclarationFile);
  const expected = new Set(sources.map((f) => join(TYPES, relative(join(ROOT, 'src'), f.fileName)).replace(/\.ts$/, '.d.ts')));
  for (const f of readdirSync(TYPES, { recursive: true, encoding: 'utf8' })) {
    if (f.endsWith('.d.ts') && !expected.has(join(TYPES, f))) rmSync(join(TYPES, f));
  }
  for (const f of expected) if (!existsSync(f)) throw new Error(`${relative(ROOT, f)} was not written`);
  return sources.length;
}

await step('dist/watchdog.mjs', buildWatchdog);
await step('dist/agent.mjs (faultline/agent)', buildAgent);
const manifest = await step('dist/esm (cli.mjs, index.mjs and their chunks)', buildEsm);
console.log(`build: dist/esm holds ${manifest.outputs.length} files from ${Object.keys(manifest.inputs).length} inputs`);
const declared = await step('dist/types', buildTypes);
console.log(`build: dist/types declares ${declared} modules`);
