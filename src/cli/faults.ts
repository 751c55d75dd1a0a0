/** `faultline faults`: active and recent faults of the running controller. */
import type { Command } from 'commander';
import { chaosClient, withLabTarget, type LabTargetOptions } from './lab-options.ts';

export function registerFaults(program: Command): void {
  withLabTarget(program.command('faults'))
    .description('List active and recent faults.')
    .option('--json', 'print them as JSON')
    .action(async (opts: LabTargetOptions & { json?: boolean }) => {
      const faults = await (await chaosClient(opts)).list();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(faults)}\n`);
        return;
      }
      if (faults.length === 0) process.stdout.write('no faults\n');
      for (const f of faults) {
        const when = new Date(f.t_start * 1000).toISOString();
        process.stdout.write(`${f.id}  ${f.phase.padEnd(8)}  ${f.type.padEnd(10)} ${f.target.padEnd(17)} ${when}  ${JSON.stringify(f.params)}${f.error ? `  error: ${f.error}` : ''}\n`);
      }
    });
}
