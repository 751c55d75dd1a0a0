/** Options every command that talks to a running lab shares: where its state is, or its controller's URL. */
import type { Command } from 'commander';
import type { ChaosClient } from '../controller/client.ts';
import { FaultlineError } from '../core/errors.ts';
import { DEFAULT_STATE_DIR } from '../supervisor/state-dir.ts';

export interface LabTargetOptions {
  stateDir: string;
  url?: string;
}

export function withLabTarget(command: Command): Command {
  return command
    .option('--state-dir <dir>', 'the lab state directory', DEFAULT_STATE_DIR)
    .option('--url <url>', 'a controller URL (instead of the lab in --state-dir)');
}

/** A chaos client for the running lab (or --url); LAB_NOT_RUNNING when there is none. */
export async function chaosClient(opts: LabTargetOptions): Promise<ChaosClient> {
  const { ChaosClient } = await import('../controller/client.ts');
  if (opts.url) return new ChaosClient(opts.url.replace(/\/$/, ''));
  const [{ chaosToken }, { labStatus }] = await Promise.all([import('../controller/token.ts'), import('../supervisor/control.ts')]);
  const status = labStatus(opts.stateDir);
  if (!status.running || !status.controller_url) {
    throw new FaultlineError('LAB_NOT_RUNNING', `no running lab in ${status.state_dir} (phase: ${status.phase})`);
  }
  return new ChaosClient(status.controller_url, chaosToken(status.state_dir));
}
