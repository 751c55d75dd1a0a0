/** `faultline status`: the lab's phase and every service's state, pid, ports and restarts. */
import type { Command } from 'commander';
import { EXIT } from '../core/exit.ts';
import { labStatus } from '../supervisor/control.ts';
import { DEFAULT_STATE_DIR } from '../supervisor/state-dir.ts';

/** Prints the status table; returns whether the lab is running. */
export function printStatus(stateDir: string): boolean {
  const status = labStatus(stateDir);
  const out: string[] = [];
  out.push(`lab: ${status.phase}${status.controller_pid ? ` (controller pid ${status.controller_pid}, ${status.controller_url})` : ''}`);
  out.push(`watchdog: ${status.watchdog_pid ? `pid ${status.watchdog_pid} (reverts every fault and restarts the controller if it dies)` : 'none'}`);
  if (status.error) out.push(`error: ${status.error}`);
  if (status.services.length > 0) {
    const rows = [['SERVICE', 'STATE', 'PID', 'PORT', 'PROXY', 'RESTARTS', 'DETAIL']];
    for (const s of status.services) {
      rows.push([s.name, s.state, String(s.pid ?? '-'), String(s.port ?? '-'), String(s.proxy_port ?? '-'), String(s.restarts), s.detail]);
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) out.push(r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return status.running;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('Show the lab: phase, and per service state, pid, ports, restarts (exit 4 when not running).')
    .option('--state-dir <dir>', 'the lab state dir', DEFAULT_STATE_DIR)
    .option('--json', 'print JSON')
    .action((opts: { stateDir: string; json?: boolean }) => {
      let running: boolean;
      if (opts.json) {
        const status = labStatus(opts.stateDir);
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        running = status.running;
      } else running = printStatus(opts.stateDir);
      if (!running) process.exitCode = EXIT.RUNTIME;
    });
}
