/** `faultline inject TYPE TARGET [key=value…]`: injects one fault through the running controller. */
import type { Command } from 'commander';
import { FaultlineError } from '../core/errors.ts';
import { beforeUse } from './before-use.ts';
import { chaosClient, withLabTarget, type LabTargetOptions } from './lab-options.ts';

export function registerInject(program: Command): void {
  const inject = withLabTarget(program.command('inject'))
    .description('Inject a fault into a target (a lab service or a registered target).')
    .argument('<type>', 'fault type (`faultline doctor` lists them)')
    .argument('<target>', 'target name, e.g. payments, orders-2, postgres-primary')
    .argument('[params...]', 'fault parameters as key=value (numbers and true/false are typed)')
    .option('--duration <duration>', 'how long the fault lives (TTL), e.g. 30s, 5m; default 10m')
    .option('--concurrent', 'allow it beside another active fault on the same target')
    .option('--json', 'print the fault record as JSON')
    .addHelpText(
      'after',
      `
Examples:
  faultline inject latency payments delay_ms=200 jitter_ms=50 --duration 2m
  faultline inject loss payments pct=5
  faultline inject down redis --duration 30s
Revert with \`faultline revert ID\` (or \`--all\`); the TTL reverts it in any case.`,
    )
    .action(async (type: string, target: string, pairs: string[], opts: LabTargetOptions & { duration?: string; concurrent?: boolean; json?: boolean }) => {
      const { parseDuration } = await import('../core/units.ts');
      const params = parsePairs(pairs);
      const duration_s = opts.duration === undefined ? undefined : parseDuration(opts.duration, '--duration') / 1000;
      const fault = await (await chaosClient(opts)).inject({ type, target, params, duration_s, concurrent: opts.concurrent });
      if (opts.json) process.stdout.write(`${JSON.stringify(fault)}\n`);
      else {
        process.stdout.write(
          `injected ${fault.type} on ${fault.target} (id ${fault.id}, via ${fault.mechanism}); reverts by itself in ${fault.ttl_s} s\n`,
        );
      }
    });
  // The fault registry loads every fault kind (and pg, undici, yaml…): for `inject` itself only, not at start-up.
  beforeUse(inject, async () => {
    const { FAULT_TYPES } = await import('../faults/registry.ts');
    inject.registeredArguments[0].description = `fault type: ${[...FAULT_TYPES.keys()].join(', ')}`;
  });
}

function parsePairs(pairs: string[]): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new FaultlineError('INVALID_INPUT', `params: "${pair}" is not key=value`, { field: 'params' });
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    params[key] = raw === 'true' ? true : raw === 'false' ? false : raw !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
  }
  return params;
}
