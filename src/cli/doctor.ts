/** `faultline doctor [--json]`: every fault type with its family, mechanism and whether this machine supports it. Exit 0 if all are, 3 if not. */
import type { Command } from 'commander';
import { EXIT } from '../core/exit.ts';
import { palette } from './options.ts';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('Say which fault types this machine supports, and why not.')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { doctor } = await import('../faults/doctor.ts');
      const report = await doctor();
      if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
      else {
        const w = (s: string, n: number): string => s.padEnd(n);
        // Colour on a terminal only, never with NO_COLOR (options.ts).
        const c = palette(process.stdout);
        const tw = Math.max(...report.types.map((r) => r.type.length)) + 2;
        const fw = Math.max(...report.types.map((r) => r.family.length)) + 2;
        process.stdout.write(`${w('TYPE', tw)}${w('FAMILY', fw)}${w('STATUS', 10)}MECHANISM / WHY NOT\n`);
        for (const r of report.types) {
          process.stdout.write(`${w(r.type, tw)}${w(r.family, fw)}${r.supported ? c.ok(w('ok', 10)) : c.bad(w('missing', 10))}${r.supported ? r.mechanism : r.reason}\n`);
        }
        const missing = report.types.filter((r) => !r.supported).length;
        process.stdout.write(missing === 0 ? `all ${report.types.length} fault types supported\n` : `${missing} of ${report.types.length} fault types unsupported here\n`);
      }
      process.exitCode = report.all_supported ? EXIT.OK : EXIT.ENVIRONMENT;
    });
}
