/**
 * `faultline demo`: the README's main job — a lab of its own, a breakpoint ramp, experiments 1–4 before and after
 * mitigations (`--all`: experiments 1–7, 9 and 10, with experiment 8's recovery ranking built from them), one
 * report, the lab stopped (src/demo/demo.ts does it all; this file parses and prints). `--proxy-tour` keeps the
 * earlier ten-second tour of the network faults (src/demo/proxy-tour.ts).
 * Exit: 0 done, 2 bad plan or flags (--all with --plan), 3 the machine lacks what the lab needs, 130 interrupted
 * (every fault reverted, lab down).
 */
import type { Command } from 'commander';
import { join, resolve } from 'node:path';
import { EXIT } from '../core/exit.ts';
import type { TourStep } from '../demo/proxy-tour.ts';
import type { DemoSummary } from '../demo/report.ts';
import { parsePort } from './options.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const stamp = (): string => new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');

interface DemoFlags {
  json?: boolean;
  proxyTour?: boolean;
  roundTrips: number;
  plan?: string;
  all?: boolean;
  out?: string;
  stateDir: string;
  basePort?: number;
  rate?: number;
  setup: boolean;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('The main job: find the lab\'s breakpoint, then a real cascade, and show it contained — experiments 1–4 before and after mitigations, one report (about 12 min on 2 cores); --all: experiments 1–10 (about 32 min).')
    .option('--json', 'print the summary as JSON on stdout')
    .option('--all', 'run experiments 1–7, 9 and 10 before and after mitigations, and rank their recoveries (experiment 8): experiments/demo-all-schedule.yaml')
    .option('--plan <file>', 'the demo plan: experiments, variants, windows, rate (default experiments/demo-schedule.yaml; not with --all)')
    .option('--out <dir>', 'report directory (default runs/demo-<time>)')
    .option('--state-dir <dir>', "the demo lab's own state directory", join(ROOT, '.faultline/demo-lab'))
    .option('--base-port <port>', 'lab base port (default: the first free range from 27000)', parsePort)
    .option('--rate <rps>', 'skip the breakpoint ramp and run at this rate', (v) => Number(v))
    .option('--no-setup', 'do not run scripts/setup.sh when something is missing')
    .option('--proxy-tour', 'instead: the 10-second tour of network faults on a local echo service')
    .option('--round-trips <n>', 'with --proxy-tour: round trips measured per fault', (v) => Number(v), 40)
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  faultline demo                                   experiments 1–4, before and after (about 12 min on 2 cores)',
        '  faultline demo --all                             experiments 1–7, 9, 10 and the recovery ranking (about 32 min)',
        '  faultline demo --plan experiments/gameday-ci.yaml',
        '',
        'The steady rate is a share (the plan\'s fraction) of the breakpoint the ramp measures, never capped; when the',
        'load generator gives out before the lab does, that lower bound is used and the report says so.',
        '--all and --plan name two different plans: give one (both: exit 2).',
        'All traffic stays on loopback. Ctrl-C reverts every fault and stops the lab (exit 130).',
      ].join('\n'),
    )
    .action(async (opts: DemoFlags) => {
      if (opts.proxyTour) return proxyTour(opts);
      const [{ runDemo }, { demoPlanFile }, { onInterrupt }] = await Promise.all([import('../demo/demo.ts'), import('../demo/plan.ts'), import('./load.ts')]);
      // Before anything starts: --all and --plan name two plans (FL_INVALID_INPUT, exit 2).
      const planFile = demoPlanFile({ all: opts.all, plan: opts.plan }, ROOT);
      const ctrl = new AbortController();
      const signals = onInterrupt(() => ctrl.abort());
      const hangup = (): void => ctrl.abort();
      process.once('SIGHUP', hangup);
      let summary: DemoSummary;
      try {
        summary = await runDemo({
          planFile,
          stateDir: resolve(opts.stateDir),
          outDir: resolve(opts.out ?? join('runs', `demo-${stamp()}`)),
          basePort: opts.basePort,
          rateRps: opts.rate,
          skipSetup: !opts.setup,
          signal: ctrl.signal,
          log: (line) => process.stderr.write(`${line}\n`),
        });
      } finally {
        signals.off();
        process.off('SIGHUP', hangup);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else {
        const rows = summary.runs.map((r) => [r.key, r.variant, r.verdict.result]);
        printTable(['experiment', 'mitigations', 'verdict'], rows);
        process.stdout.write(`\nReport: ${summary.report.html}\n        ${summary.report.markdown}\n`);
      }
      process.exitCode = signals.interrupted() ? EXIT.INTERRUPTED : EXIT.OK;
    });
}

async function proxyTour(opts: DemoFlags): Promise<void> {
  const progress = (step: TourStep, i: number, total: number): void => {
    if (!opts.json) process.stderr.write(`[${i + 1}/${total}] ${step.fault}: p50 ${fmt(step.p50_ms)} ms, ${step.outcome}\n`);
  };
  const { runProxyTour } = await import('../demo/proxy-tour.ts');
  const steps = await runProxyTour({ roundTrips: opts.roundTrips, onStep: progress });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ steps }, null, 2)}\n`);
    return;
  }
  const rows = steps.map((s) => [s.fault, fmt(s.p50_ms), fmt(s.p99_ms), fmt(s.max_ms), s.throughput_kbps ? String(s.throughput_kbps) : '—', s.outcome]);
  printTable(['fault', 'p50 ms', 'p99 ms', 'max ms', 'KB/s (256 KB echo)', 'outcome'], rows);
  process.stdout.write('\nEvery toxic was removed and the proxy closed. Next: `faultline proxy --help`.\n');
}

function fmt(x: number): string {
  return Number.isNaN(x) ? '—' : x.toFixed(2);
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  process.stdout.write(`${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const r of rows) process.stdout.write(`${line(r)}\n`);
}
