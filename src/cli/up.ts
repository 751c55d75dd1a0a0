/** `faultline up`: starts the lab (foreground until Ctrl-C, or `--detach`ed and back once healthy). */
import type { Command } from 'commander';
import { runForeground, startDetached } from '../supervisor/daemon.ts';
import { DEFAULT_STATE_DIR } from '../supervisor/state-dir.ts';
import { parsePort } from './options.ts';
import { printStatus } from './status.ts';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('Start the lab: PostgreSQL primary + replica, Redis, payments, orders ×2, worker, api, one fault proxy each.')
    .option('--state-dir <dir>', 'where data, logs and pid files live', DEFAULT_STATE_DIR)
    .option('--base-port <port>', 'base of every lab port (default: last used, else 27000)', parsePort)
    .option('--detach', 'run the controller in the background; return once the lab is healthy')
    .option('--json', 'with --detach: print the status as JSON')
    .addHelpText(
      'after',
      `
Ports are base + offset: api 80 (proxy) / 180 (process), orders-1 81/181, orders-2 82/182, payments 83/183,
worker 184, postgres-primary 432/532, postgres-replica 433/533, redis 379/479, controller API 474.
A second \`up\` on the same state dir reuses its data.

Examples:
  faultline up                       # foreground; Ctrl-C stops everything
  faultline up --detach && faultline status
  faultline up --detach --state-dir /tmp/lab --base-port 28000`,
    )
    .action(async (opts: { stateDir: string; basePort?: number; detach?: boolean; json?: boolean }) => {
      if (!opts.detach) {
        await runForeground({ stateDir: opts.stateDir, basePort: opts.basePort });
        return;
      }
      const status = await startDetached({ stateDir: opts.stateDir, basePort: opts.basePort });
      if (opts.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else {
        process.stdout.write(`lab up in ${((status.ready_ms ?? 0) / 1000).toFixed(1)} s (controller pid ${status.controller_pid})\n`);
        printStatus(opts.stateDir);
      }
    });
}
