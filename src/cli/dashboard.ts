/**
 * `faultline dashboard`: prints the running lab's dashboard URL with the chaos token in its fragment
 * (`#token=…`). A fragment never leaves the browser — no request, log or Referer carries it — and the page moves
 * it into sessionStorage (this origin, this tab) and strips it from the address bar. Whoever can read the state
 * dir can already inject faults, so printing the token here gives no one anything new.
 */
import type { Command } from 'commander';
import { FaultlineError } from '../core/errors.ts';
import { DEFAULT_STATE_DIR } from '../supervisor/state-dir.ts';

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('Print the live dashboard URL, signed in (the token rides in the #fragment, never sent to the server).')
    .option('--state-dir <dir>', 'the lab state dir', DEFAULT_STATE_DIR)
    .option('--read-only', 'print the URL without the token (panels only; inject/halt stay disabled)')
    .option('--json', 'print {url, read_only} as JSON')
    .action(async (opts: { stateDir: string; readOnly?: boolean; json?: boolean }) => {
      const [{ chaosToken }, { labStatus }] = await Promise.all([import('../controller/token.ts'), import('../supervisor/control.ts')]);
      const status = labStatus(opts.stateDir);
      if (!status.running || status.controller_url === null) {
        throw new FaultlineError('LAB_NOT_RUNNING', `no running lab in ${status.state_dir} (phase: ${status.phase})`);
      }
      const url = `${status.controller_url}/ui/`;
      const signed = opts.readOnly ? url : `${url}#token=${chaosToken(status.state_dir)}`;
      process.stdout.write(opts.json ? `${JSON.stringify({ url: signed, read_only: opts.readOnly === true })}\n` : `${signed}\n`);
    });
}
