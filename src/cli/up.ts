/** `faultline up`: starts the lab (foreground until Ctrl-C, or `--detach`ed and back once healthy). */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
// The block's schema lives with the lab services that apply it (the lab imports nothing from src, not the reverse).
import { MitigationsError, parseMitigations, PRESETS } from '../../lab/common/mitigations.ts';
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
    .option('--mitigations <none|all|file>', 'lab mitigations: a preset, a YAML/JSON file (a block, or an experiment with `mitigations:`), or inline JSON', parseMitigationsOption)
    .option('--adopt', 'take over services a dead controller left running (alive and healthy) instead of restarting them')
    .addHelpText(
      'after',
      `
Ports are base + offset: api 80 (proxy) / 180 (process), orders-1 81/181, orders-2 82/182, payments 83/183,
worker 184, postgres-primary 432/532, postgres-replica 433/533, redis 379/479, controller API 474.
A second \`up\` on the same state dir reuses its data.

Examples:
  faultline up                       # foreground; Ctrl-C stops everything
  faultline up --detach && faultline status
  faultline up --detach --state-dir /tmp/lab --base-port 28000
  faultline up --detach --mitigations all          # the protected lab ("after"); default none ("before")
  faultline up --detach --mitigations '{"preset":"none","bulkheads":true}'`,
    )
    .action(async (opts: { stateDir: string; basePort?: number; detach?: boolean; json?: boolean; mitigations?: string; adopt?: boolean }) => {
      if (!opts.detach) {
        await runForeground({ stateDir: opts.stateDir, basePort: opts.basePort, mitigations: opts.mitigations, adopt: opts.adopt });
        return;
      }
      const status = await startDetached({ stateDir: opts.stateDir, basePort: opts.basePort, mitigations: opts.mitigations, adopt: opts.adopt });
      if (opts.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else {
        process.stdout.write(`lab up in ${((status.ready_ms ?? 0) / 1000).toFixed(1)} s (controller pid ${status.controller_pid})\n`);
        printStatus(opts.stateDir);
      }
    });
}

/**
 * `--mitigations`: a preset name, inline JSON, or a YAML/JSON file holding a block (or an experiment whose
 * `mitigations:` key holds it). Validated here, so a bad block fails before anything starts; passed on as
 * the preset name or compact JSON (what the services read from LAB_MITIGATIONS).
 */
export function parseMitigationsOption(value: string): string {
  if ((PRESETS as readonly string[]).includes(value)) return value;
  let block: unknown;
  try {
    if (value.trim().startsWith('{')) block = JSON.parse(value);
    else {
      const doc: unknown = parseYaml(readFileSync(value, 'utf8'));
      const inner = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>).mitigations : undefined;
      block = inner ?? doc;
    }
  } catch (err) {
    throw new InvalidArgumentError(`expected ${PRESETS.join(', ')}, inline JSON or a readable YAML/JSON file (${(err as Error).message})`);
  }
  try {
    parseMitigations(block);
  } catch (err) {
    if (err instanceof MitigationsError) throw new InvalidArgumentError(err.message);
    throw err;
  }
  return typeof block === 'string' ? block : JSON.stringify(block);
}
