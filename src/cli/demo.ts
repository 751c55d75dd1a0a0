/** `faultline demo`: the README's main job. Today it runs the proxy tour (see src/demo/proxy-tour.ts). */
import type { Command } from 'commander';
import { runProxyTour, type TourStep } from '../demo/proxy-tour.ts';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('Show what each network fault does to a live connection, with numbers (about 10 s).')
    .option('--json', 'print the results as JSON')
    .option('--round-trips <n>', 'round trips measured per fault', (v) => Number(v), 40)
    .addHelpText('after', '\nRuns entirely on loopback: a local echo service behind a faultline proxy; leaves nothing behind.')
    .action(async (opts: { json?: boolean; roundTrips: number }) => {
      const progress = (step: TourStep, i: number, total: number): void => {
        if (!opts.json) process.stderr.write(`[${i + 1}/${total}] ${step.fault}: p50 ${fmt(step.p50_ms)} ms, ${step.outcome}\n`);
      };
      const steps = await runProxyTour({ roundTrips: opts.roundTrips, onStep: progress });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ steps }, null, 2)}\n`);
        return;
      }
      const rows = steps.map((s) => [s.fault, fmt(s.p50_ms), fmt(s.p99_ms), fmt(s.max_ms), s.throughput_kbps ? String(s.throughput_kbps) : '—', s.outcome]);
      printTable(['fault', 'p50 ms', 'p99 ms', 'max ms', 'KB/s (256 KB echo)', 'outcome'], rows);
      process.stdout.write('\nEvery toxic was removed and the proxy closed. Next: `faultline proxy --help`.\n');
    });
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
