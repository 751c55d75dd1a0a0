/** `faultline revert ID|--all`: reverts one fault (or every active one) and reports whether it verified. */
import type { Command } from 'commander';
import { FaultlineError } from '../core/errors.ts';
import { chaosClient, withLabTarget, type LabTargetOptions } from './lab-options.ts';

export function registerRevert(program: Command): void {
  withLabTarget(program.command('revert'))
    .description('Revert a fault by id, or every active fault with --all (halt).')
    .argument('[id]', 'the fault id `faultline inject` printed')
    .option('--all', 'revert every active fault now')
    .option('--json', 'print the result as JSON')
    .action(async (id: string | undefined, opts: LabTargetOptions & { all?: boolean; json?: boolean }) => {
      if (!id && !opts.all) throw new FaultlineError('INVALID_INPUT', 'give a fault id or --all', { field: 'id' });
      if (id && opts.all) throw new FaultlineError('INVALID_INPUT', 'give either a fault id or --all, not both', { field: 'id' });
      const client = await chaosClient(opts);
      if (opts.all) {
        const result = await client.halt();
        if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else process.stdout.write(`reverted ${result.reverted.length} fault(s); still active: ${result.still_active.length}\n`);
        if (result.still_active.length > 0) process.exitCode = 4;
        return;
      }
      const result = await client.revert(id!);
      if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
      else process.stdout.write(`reverted ${result.id}${result.verified ? ' (verified gone)' : ''}\n`);
    });
}
