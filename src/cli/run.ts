/**
 * `faultline run FILE [--out DIR] [--json] [--state-dir D] [--prometheus URL]`: runs an experiment (or a schedule
 * of them, in order) against the RUNNING lab — it never starts one: `faultline up --detach` first (exit 3 / FL_LAB_NOT_RUNNING
 * otherwise). Exit codes: 0 every hypothesis held (and none regressed vs --compare); 1 degraded, failed, aborted, invalid, inconclusive or regressed; 2 bad experiment file;
 * 3 no lab (or a --prometheus that does not answer); 130 interrupted (every fault reverted first).
 */
import type { Command } from 'commander';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultlineError } from '../core/errors.ts';
import { EXIT } from '../core/exit.ts';
import type { Progress } from '../runner/run.ts';
import type { CtkCommandFlags } from '../ctk/command.ts';
import type { Verdict } from '../runner/evaluate.ts';
import { DEFAULT_STATE_DIR } from '../supervisor/state-dir.ts';
import { onInterrupt } from './load.ts';
import { progressLine } from './options.ts';

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48);
const stamp = (): string => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');

function liveLine(p: Progress): string {
  const slis = p.slis
    .map((s) => `${s.name} ${s.value === null ? '—' : s.unit === 'ms' ? s.value.toFixed(0) : (s.value * 100).toFixed(2)}${s.unit === 'ms' ? 'ms' : '%'}/${s.unit === 'ms' ? s.threshold : `${(s.threshold * 100).toFixed(2)}%`} ${s.ok ? 'ok' : 'BREACH'}`)
    .join(' | ');
  return `${p.phase.padEnd(8)} ${String(p.left_s).padStart(4)} s left${p.faults_active ? ` · ${p.faults_active} fault(s)` : ''} · ${slis}`;
}

function summaryText(v: Verdict, dir: string): string {
  const n = (x: number | null, d = 1): string => (x === null ? '—' : x.toFixed(d));
  const pct = (x: number | null): string => n(x === null ? null : x * 100, 3);
  // One line per source, each under its own name: the judged one first.
  const line = (label: string, h: Verdict['figures']['server'] | null): string => {
    if (h === null) return `  ${label}: not recorded`;
    const parts = [
      h.from.latency && `${h.from.latency} ${n(h.baseline_p99)} → ${n(h.fault_p99)} ms`,
      h.from.error_rate && `${h.from.error_rate} ${pct(h.baseline_err_rate)} → ${pct(h.fault_err_rate)} % (n ${h.n.baseline} → ${h.n.fault})`,
      h.from.availability && `${h.from.availability} ${pct(h.fault_availability)} % under fault (n ${h.n.fault_availability})`,
    ].filter(Boolean);
    return `  ${label}: ${parts.join(' · ') || 'no figures (no SLI this source can read: the system declares no server metrics for them)'}`;
  };
  const order = v.figures_source === 'users' ? (['users', 'server'] as const) : (['server', 'users'] as const);
  return [
    `${v.experiment}: ${v.result.toUpperCase()}`,
    ...v.reasons.map((r) => `  - ${r}`),
    ...order.map((k, i) => line(`${k}${i === 0 ? ' (judged)' : ' (beside)'}`, v.figures[k])),
    `  detect ${n(v.time_to_detect_s, 2)} s · MTTR ${n(v.mttr_s, 2)} s (${v.timing.source}) · blast ${v.blast_radius.endpoints_breached}/${v.blast_radius.endpoints_total} endpoints${v.load.amplification_of ? ` · ${v.load.amplification_of} ×${n(v.load.amplification, 2)} (baseline ×${n(v.load.baseline_amplification, 2)})` : ''} · integrity ${v.integrity.checked ? (v.integrity.ok ? 'ok' : 'BROKEN') : 'not checked'}`,
    `  run dir: ${dir}`,
  ].join('\n');
}

/** Worse is higher: a move up this list between two runs of the same experiment is a regression. */
const RANK: Record<Verdict['result'], number> = { held: 0, inconclusive: 1, degraded: 2, failed: 3, aborted: 4, invalid: 5 };

/** The verdicts of a previous run dir, or of every run dir under a schedule's parent, by experiment title. */
function previousVerdicts(previous: string): Map<string, Verdict['result']> {
  const dirs = existsSync(join(previous, 'verdict.json'))
    ? [previous]
    : existsSync(previous)
      ? readdirSync(previous).map((d) => join(previous, d)).filter((d) => existsSync(join(d, 'verdict.json')))
      : [];
  if (dirs.length === 0) throw new FaultlineError('INVALID_INPUT', `--compare: ${previous} holds no verdict.json`, { field: '--compare' });
  return new Map(dirs.map((d) => JSON.parse(readFileSync(join(d, 'verdict.json'), 'utf8')) as Verdict).map((v) => [v.experiment, v.result]));
}

/** Verdicts that got worse than before (`--compare`). */
function compareVerdicts(before: Map<string, Verdict['result']>, now: Verdict[]): string[] {
  return now.flatMap((v) => {
    const was = before.get(v.experiment);
    return was !== undefined && RANK[v.result] > RANK[was] ? [`${v.experiment}: ${was} → ${v.result}`] : [];
  });
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('Run an experiment file (or a schedule file) against the running lab and print its verdict.')
    .argument('<file>', 'experiment YAML, or a schedule YAML listing experiments')
    .option('--out <dir>', 'run directory (for a schedule: the parent of one dir per experiment); default runs/<time>-<title>')
    .option('--json', 'print the verdict(s) as JSON')
    .option('--state-dir <dir>', 'the lab state directory', DEFAULT_STATE_DIR)
    .option('--prometheus <url>', 'read the lab\'s series from this Prometheus (range queries, step = scrape interval) instead of scraping the lab; it must scrape each lab process with job or `service` label = the process name, as deploy/prometheus/prometheus.yml does')
    .option('--compare <run-dir>', 'a previous run (or a schedule run parent dir): exit 1 when a verdict regresses (e.g. held → degraded)')
    // Chaos Toolkit experiments (recognised by their shape; src/ctk/, docs/chaos-toolkit.md):
    .option('--journal-path <file>', 'Chaos Toolkit experiment: where journal.json goes (default <run dir>/journal.json)')
    .option('--hypothesis-strategy <s>', 'Chaos Toolkit experiment: default|before-method-only|after-method-only|during-method-only|continuously')
    .option('--hypothesis-frequency <s>', 'Chaos Toolkit experiment: seconds between hypothesis runs during the method (default 1)')
    .option('--fail-fast', 'Chaos Toolkit experiment: end the method at the first deviation during it')
    .option('--rollback-strategy <s>', 'Chaos Toolkit experiment: default|always|never|deviated (faultline\'s default plays rollbacks whatever the status)')
    .option('--var <k=v>', 'Chaos Toolkit experiment: a configuration value (k=v, k:int=v, k:float=v); repeatable', (v: string, prev: string[] = []) => [...prev, v])
    .addHelpText('after', 'A Chaos Toolkit experiment (JSON or YAML with a method / steady-state-hypothesis) runs with CTK\'s semantics and writes its journal.json; it exits like `chaos run` (0 completed and not deviated, 1 otherwise), 2 invalid, 3 no system for faultline.* actions. See docs/chaos-toolkit.md.\n')
    .addHelpText('after', '\nNeeds a running lab: faultline up --detach. Exit: 0 held, 1 not held (degraded/failed/aborted/invalid/inconclusive), 2 invalid file, 3 no lab (or --prometheus not answering), 130 interrupted.\n')
    .action(async (file: string, opts: { out?: string; json?: boolean; stateDir: string; compare?: string; prometheus?: string }) => {
      // Rollbacks a crashed Chaos Toolkit run still owes are played first; a CTK file runs through src/ctk/.
      const ctk = await import('../ctk/command.ts');
      await ctk.replayOwedRollbacks(opts.stateDir, opts.json);
      if (ctk.isCtkFile(file)) {
        process.exitCode = await ctk.runCtkCommand(file, opts as CtkCommandFlags);
        return;
      }
      // The work loads only when the command runs (startup of every other command stays light).
      const [{ labStatus }, { loadExperiments }, { runExperiment }, { runTarget }, { preflight }] = await Promise.all([
        import('../supervisor/control.ts'),
        import('../runner/schema.ts'),
        import('../runner/run.ts'),
        import('../supervisor/run-target.ts'),
        import('../runner/preflight.ts'),
      ]);
      const experiments = loadExperiments(file);
      const previous = opts.compare ? previousVerdicts(opts.compare) : undefined;
      // A missing lab is a missing capability of the environment (exit 3), not a run-time failure.
      const status = labStatus(opts.stateDir);
      if (!status.running) {
        const err = new FaultlineError('LAB_NOT_RUNNING', `no running lab in ${status.state_dir} (phase: ${status.phase}); faultline run never starts one`);
        process.stderr.write(`error [${err.publicCode}]: ${err.message}\nhint: ${err.hint}\n`);
        process.exitCode = EXIT.ENVIRONMENT;
        return;
      }
      const target = runTarget(opts.stateDir);
      // Every experiment of a schedule is checked against the system before the first one starts.
      const problems: string[] = [];
      for (const exp of experiments) await preflight(exp, target).catch((err: Error) => problems.push(err.message));
      if (problems.length > 0) throw new FaultlineError('INVALID_INPUT', problems.join('\n'));
      const ctrl = new AbortController();
      const signals = onInterrupt(() => ctrl.abort());
      // A closed terminal must not leave a fault on either.
      const hangup = (): void => ctrl.abort();
      process.once('SIGHUP', hangup);
      // A live line on a TTY, a plain line every 5 s otherwise (CI logs), none with --json or --quiet.
      const live = opts.json ? undefined : progressLine(process.stderr);
      const results: (Verdict & { dir: string })[] = [];
      try {
        for (const [i, exp] of experiments.entries()) {
          if (ctrl.signal.aborted) break;
          const name = `${stamp()}-${slug(exp.title)}`;
          const dir = experiments.length === 1 ? (opts.out ?? join('runs', name)) : join(opts.out ?? 'runs', `${String(i + 1).padStart(2, '0')}-${slug(exp.title)}`);
          if (!opts.json) process.stderr.write(`running ${exp.title} (${exp.windows.warmup_s + exp.windows.baseline_s + exp.windows.fault_s + exp.windows.recovery_s} s planned)\n`);
          const { verdict } = await runExperiment(exp, target, {
            outDir: dir,
            signal: ctrl.signal,
            prometheus: opts.prometheus,
            onProgress: live ? (p) => live.update(liveLine(p)) : undefined,
          });
          live?.done();
          results.push({ ...verdict, dir });
          if (!opts.json) process.stdout.write(`${summaryText(verdict, dir)}\n`);
        }
      } finally {
        signals.off();
        process.off('SIGHUP', hangup);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(experiments.length === 1 ? results[0] : results, null, 2)}\n`);
      const regressions = previous ? compareVerdicts(previous, results) : [];
      for (const r of regressions) process.stderr.write(`regressed: ${r}\n`);
      const allHeld = results.every((r) => r.result === 'held');
      process.exitCode = signals.interrupted() ? EXIT.INTERRUPTED : allHeld && regressions.length === 0 ? EXIT.OK : EXIT.HYPOTHESIS_FAILED;
    });
}
