/**
 * CLI start-up bench: wall time of `faultline --version`, `faultline --help` and `faultline toxics` (no lab
 * needed), each through bin/faultline both ways, interleaved in the same run:
 *   - sources: FAULTLINE_FROM_SOURCE=1, tsx compiling src/ in memory (what every start cost before dist/);
 *   - built:   dist/esm/cli.mjs after bin/faultline's staleness check (every run confirms it took this path).
 * Beside them: `node -e 0` (the floor, Node's own start-up), the built entry run without bin/faultline, and the
 * check's own time as bin/faultline measures it (FAULTLINE_BIN_DEBUG=1). Prints median and spread (min–max)
 * over --runs, with the machine and its load. Goal (issue 19): built `--version` and `--help` ≤ 150 ms median.
 * `--baseline DIR` adds an earlier build run the same way, interleaved: DIR holds its bin/faultline and dist/
 * (e.g. a copy of bin/, dist/ and package.json taken before a change, with node_modules linked), so a
 * before/after comparison comes from one run on one machine under the same load.
 *
 * Builds dist/ first when bin/faultline finds it stale. Run: npm run bench:cli [-- --runs 20] [-- --baseline DIR]
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spread } from './lib/stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, baseline: { type: 'string' }, snapshot: { type: 'boolean', default: false } } });
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 5) throw new Error(`--runs: at least 5 (got ${values.runs})`);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/faultline', import.meta.url));
const { FAULTLINE_FROM_SOURCE: _f, FAULTLINE_BIN_DEBUG: _d, ...env } = process.env;

interface Variant {
  name: string;
  argv: (args: string[]) => string[];
  env: NodeJS.ProcessEnv;
}
const SOURCES: Variant = { name: 'sources (tsx)', argv: (a) => [BIN, ...a], env: { ...env, FAULTLINE_FROM_SOURCE: '1' } };
// --snapshot: the built variants run from a copy of bin/, dist/ and package.json taken once, so a checkout that
// others keep editing can still be measured (without src/ beside it bin/faultline skips its staleness check, as in
// an installed package; the check's own cost is then not in the figures).
let builtRoot = ROOT;
const BUILT: Variant = { name: 'built (dist/)', argv: (a) => [join(builtRoot, 'bin/faultline'), ...a], env: { ...env, FAULTLINE_BIN_DEBUG: '1' } };
const DIRECT: Variant = { name: 'built, no bin check', argv: (a) => [join(builtRoot, 'dist/esm/cli.mjs'), ...a], env };
const BASELINE: Variant[] = values.baseline ? [{ name: 'baseline build', argv: (a) => [join(values.baseline!, 'bin/faultline'), ...a], env }] : [];
const CASES: { args: string[]; variants: Variant[] }[] = [
  { args: ['--version'], variants: [SOURCES, BUILT, DIRECT, ...BASELINE] },
  { args: ['--help'], variants: [SOURCES, BUILT, ...BASELINE] },
  { args: ['toxics'], variants: [SOURCES, BUILT] },
];

/** bin/faultline's own word on which path it takes, and how long its check took. */
function binSays(stderr: string): { built: boolean; checkMs: number; line: string } {
  const line = stderr.split('\n').find((l) => l.startsWith('faultline: ')) ?? '(no FAULTLINE_BIN_DEBUG line)';
  const ms = /checked in ([\d.]+) ms/.exec(line);
  // `--version` alone is answered from package.json, before any check (bin/faultline's fast path).
  const built = line.startsWith('faultline: dist/esm/cli.mjs') || line.startsWith('faultline: --version from package.json');
  return { built, checkMs: ms ? Number(ms[1]) : NaN, line };
}

function runOnce(argv: string[], childEnv: NodeJS.ProcessEnv, quiet = false): { ms: number; stderr: string } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, env: childEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = performance.now() - t0;
  if (r.status !== 0 || (r.stdout.length === 0 && !quiet)) throw new Error(`${argv.join(' ')}: exit ${r.status}, ${r.stdout.length} bytes out\n${r.stderr}`);
  return { ms, stderr: r.stderr };
}

let rebuilds = 0;
/** Builds dist/ (at most 3 times: a checkout under steady edits cannot be measured). */
function build(why: string): void {
  if (++rebuilds > 3) throw new Error(`dist/ went stale ${rebuilds} times (${why}): sources are changing under the bench`);
  console.log(`dist/ is not current (${why}); building`);
  const b = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/build.ts'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (b.status !== 0) throw new Error('the build failed');
}
// `--help`: `--version` skips the check, so it cannot say whether dist/ is current.
const probe = binSays(runOnce([BIN, '--help'], BUILT.env).stderr);
if (!probe.built) build(probe.line);
if (values.snapshot) {
  builtRoot = mkdtempSync(join(tmpdir(), 'faultline-bench-cli-'));
  for (const p of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, p), join(builtRoot, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(builtRoot, 'node_modules'));
  process.on('exit', () => rmSync(builtRoot, { recursive: true, force: true }));
  console.log(`snapshot of the build in ${builtRoot} (bin/faultline there skips the staleness check: no src/)`);
}

const samples = new Map<string, number[]>();
const checks: number[] = [];
const loads: number[] = [];
const add = (key: string, ms: number): void => void (samples.get(key) ?? samples.set(key, []).get(key)!).push(ms);
// One warm-up of each (file cache, tsx's compile cache) that is not counted.
for (const c of CASES) for (const v of c.variants) runOnce(v.argv(c.args), v.env);
for (let i = 0; i < RUNS; i++) {
  loads.push(loadavg()[0]);
  add('node -e 0', runOnce(['-e', '0'], env, true).ms);
  for (const c of CASES) {
    // Alternate the order, so neither way always runs right after the other.
    const variants = i % 2 === 0 ? c.variants : [...c.variants].reverse();
    for (const v of variants) {
      let { ms, stderr } = runOnce(v.argv(c.args), v.env);
      if (v === BUILT) {
        let said = binSays(stderr);
        // A source edited mid-bench: that run was the sources', not the build's. Rebuild and run it again.
        while (!said.built) {
          build(said.line);
          ({ ms, stderr } = runOnce(v.argv(c.args), v.env));
          said = binSays(stderr);
        }
        if (c.args[0] !== '--version') checks.push(said.checkMs);
      }
      add(`${c.args.join(' ')}|${v.name}`, ms);
    }
  }
}

const fmt = (xs: number[]): string => {
  const s = spread(xs);
  return `median ${s.median.toFixed(0).padStart(5)} ms  (min ${s.min.toFixed(0)} – max ${s.max.toFixed(0)})`;
};
const cpu = cpus();
console.log(`\nmachine: ${cpu[0]?.model ?? '?'}, ${cpu.length} cores, node ${process.version}, load average ${spread(loads).median.toFixed(2)} (median over runs)`);
console.log(`${RUNS} runs of each, interleaved, after one warm-up; wall time of the whole process\n`);
console.log(`${'node -e 0 (floor)'.padEnd(42)} ${fmt(samples.get('node -e 0')!)}`);
for (const c of CASES) {
  const cmd = `faultline ${c.args.join(' ')}`;
  for (const v of c.variants) console.log(`${`${cmd}  ${v.name}`.padEnd(42)} ${fmt(samples.get(`${c.args.join(' ')}|${v.name}`)!)}`);
  const src = spread(samples.get(`${c.args.join(' ')}|${SOURCES.name}`)!).median;
  const built = spread(samples.get(`${c.args.join(' ')}|${BUILT.name}`)!).median;
  console.log(`${''.padEnd(42)} built is ${(src / built).toFixed(1)}× faster\n`);
}
const c = spread(checks);
console.log(`bin/faultline's staleness check (in-process): median ${c.median.toFixed(2)} ms (min ${c.min.toFixed(2)} – max ${c.max.toFixed(2)}), ${checks.length} checks`);
const version = spread(samples.get(`--version|${BUILT.name}`)!).median;
const help = spread(samples.get(`--help|${BUILT.name}`)!).median;
console.log(`goal --version and --help ≤ 150 ms median (built): ${version <= 150 && help <= 150 ? 'met' : 'NOT met'} (${version.toFixed(0)} ms, ${help.toFixed(0)} ms)`);
