/** `faultline down`: stops the lab and everything it left running, even after its controller was killed. */
import type { Command } from 'commander';
import { DEFAULT_STATE_DIR } from '../supervisor/state-dir.ts';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('Stop the lab (reverse order; SIGKILL after a grace period); safe to run when nothing runs.')
    .option('--state-dir <dir>', 'the lab state dir', DEFAULT_STATE_DIR)
    .option('--json', 'print {controller, watchdog, leftovers} as JSON (and no step lines)')
    .action(async (opts: { stateDir: string; json?: boolean }) => {
      const { stopLab } = await import('../supervisor/control.ts');
      const log = (line: string): void => void process.stdout.write(`${line}\n`);
      const result = await stopLab(opts.stateDir, opts.json ? undefined : log);
      if (opts.json) return void process.stdout.write(`${JSON.stringify(result)}\n`);
      if (result.controller === 'not running' && result.watchdog === 'not running' && result.leftovers === 0) log('lab not running; nothing to stop');
      else log(`lab stopped${result.leftovers > 0 ? ` (${result.leftovers} leftover process(es) killed from pid files)` : ''}`);
    });
}
