/** `faultline status`: the lab's phase and every service's state, pid, ports and restarts. */
import type { Command } from 'commander';
import { EXIT } from '../core/exit.ts';
import type { LabStatus } from '../supervisor/control.ts';
import { DEFAULT_STATE_DIR } from '../supervisor/state-dir.ts';

/** Prints the status table (`labStatus(stateDir)`'s); returns whether the lab is running. */
export function printStatus(status: LabStatus): boolean {
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
    .action(async (opts: { stateDir: string; json?: boolean }) => {
      const { labStatus } = await import('../supervisor/control.ts');
      const status = labStatus(opts.stateDir);
      if (opts.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else printStatus(status);
      if (!status.running) process.exitCode = EXIT.RUNTIME;
    });
}
