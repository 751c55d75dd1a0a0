/** `faultline up`: starts the lab (foreground until Ctrl-C, or `--detach`ed and back once healthy). */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { FaultlineError } from '../core/errors.ts';
import { DEFAULT_STATE_DIR } from '../supervisor/state-dir.ts';
import { parsePort, progressLine } from './options.ts';
import { printStatus } from './status.ts';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('Start the lab: PostgreSQL primary + replica, Redis, payments, orders ×2, worker, api, one fault proxy each.')
    .option('--state-dir <dir>', 'where data, logs and pid files live', DEFAULT_STATE_DIR)
    .option('--base-port <port>', 'base of every lab port (default: last used, else 27000)', parsePort)
    .option('--detach', 'run the controller in the background; return once the lab is healthy')
    .option('--json', 'with --detach: print the status as JSON')
    // Validated first thing in the action (its parser loads yaml and the lab's schema: not at start-up).
    .option('--mitigations <none|all|file>', 'lab mitigations: a preset, a YAML/JSON file (a block, or an experiment with `mitigations:`), or inline JSON')
    .option('--adopt', 'take over services a dead controller left running (alive and healthy) instead of restarting them')
    .option('--system <file>', 'the system file to run (default: the one this state dir ran last, else ./faultline.yaml, else the built-in lab)')
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
    .action(async (opts: { stateDir: string; basePort?: number; detach?: boolean; json?: boolean; mitigations?: string; adopt?: boolean; system?: string }) => {
      const mitigations = opts.mitigations === undefined ? undefined : await parseMitigationsOption(opts.mitigations);
      const { runForeground, startDetached } = await import('../supervisor/daemon.ts');
      if (!opts.detach) {
        await runForeground({ stateDir: opts.stateDir, basePort: opts.basePort, mitigations, adopt: opts.adopt, system: opts.system });
        return;
      }
      // Coming up takes seconds: say how far it got (a live line on a TTY, a plain line every 5 s otherwise).
      const { labStatus } = await import('../supervisor/control.ts');
      const progress = progressLine(process.stderr, { quiet: opts.json });
      const t0 = Date.now();
      const tick = setInterval(() => {
        let s;
        try {
          s = labStatus(opts.stateDir);
        } catch {
          return; // its status file is being written: the next tick reads it
        }
        const up = s.services.filter((x) => x.state === 'running').length;
        progress.update(`starting the lab: ${s.phase}, ${up}/${s.services.length} services running (${Math.round((Date.now() - t0) / 1000)} s)`);
      }, 1000);
      tick.unref();
      let status;
      try {
        status = await startDetached({ stateDir: opts.stateDir, basePort: opts.basePort, mitigations, adopt: opts.adopt, system: opts.system });
      } finally {
        clearInterval(tick);
        progress.done();
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else {
        process.stdout.write(`lab up in ${((status.ready_ms ?? 0) / 1000).toFixed(1)} s (controller pid ${status.controller_pid})\n`);
        printStatus(labStatus(opts.stateDir));
      }
    });
}

/**
 * `--mitigations`: a preset name, inline JSON, or a YAML/JSON file holding a block (or an experiment whose
 * `mitigations:` key holds it). Validated before anything starts (INVALID_INPUT, exit 2); passed on as the
 * preset name or compact JSON (what the services read from LAB_MITIGATIONS).
 */
export async function parseMitigationsOption(value: string): Promise<string> {
  // The block's schema lives with the lab services that apply it (the lab imports nothing from src, not the reverse).
  const { MitigationsError, parseMitigations, PRESETS } = await import('../../lab/common/mitigations.ts');
  if ((PRESETS as readonly string[]).includes(value)) return value;
  const invalid = (why: string): FaultlineError => new FaultlineError('INVALID_INPUT', `--mitigations: ${why}`, { field: '--mitigations' });
  let block: unknown;
  try {
    if (value.trim().startsWith('{')) block = JSON.parse(value);
    else {
      const { parse: parseYaml } = await import('yaml');
      const doc: unknown = parseYaml(readFileSync(value, 'utf8'));
      const inner = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>).mitigations : undefined;
      block = inner ?? doc;
    }
  } catch (err) {
    throw invalid(`expected ${PRESETS.join(', ')}, inline JSON or a readable YAML/JSON file (${(err as Error).message})`);
  }
  try {
    parseMitigations(block);
  } catch (err) {
    if (err instanceof MitigationsError) throw invalid(err.message);
    throw err;
  }
  return typeof block === 'string' ? block : JSON.stringify(block);
}
