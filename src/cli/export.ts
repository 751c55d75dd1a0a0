/**
 * `faultline export --format chaostoolkit EXPERIMENT.yaml [--out FILE] [--yaml]`: writes a faultline experiment as
 * a Chaos Toolkit experiment that uses faultline's actions (src/ctk/export.ts), to stdout or FILE, which
 * `faultline run` runs like any CTK file. Exit: 0 written, 2 invalid experiment or format.
 */
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { FaultlineError } from '../core/errors.ts';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('Write a faultline experiment in another format (chaostoolkit: a CTK experiment using faultline\'s actions).')
    .argument('<experiment>', 'faultline experiment YAML')
    .requiredOption('--format <format>', 'output format: chaostoolkit')
    .option('--out <file>', 'write here instead of stdout (relative mix paths are rewritten against it)')
    .option('--yaml', 'YAML instead of JSON')
    .addHelpText('after', '\nExample: faultline export --format chaostoolkit experiments/payments-latency-ci.yaml --out ctk.json && faultline run ctk.json\nExit: 0 written, 2 invalid experiment or format.\n')
    .action(async (file: string, opts: { format: string; out?: string; yaml?: boolean }) => {
      if (opts.format !== 'chaostoolkit') throw new FaultlineError('INVALID_INPUT', `--format: ${JSON.stringify(opts.format)} is not supported (supported: chaostoolkit)`, { field: '--format' });
      const [{ loadExperiment }, { toChaosToolkit }, YAML] = await Promise.all([import('../runner/schema.ts'), import('../ctk/export.ts'), import('yaml')]);
      const ctk = toChaosToolkit(loadExperiment(file), opts.out);
      const text = opts.yaml ? YAML.stringify(ctk) : `${JSON.stringify(ctk, null, 2)}\n`;
      if (opts.out) writeFileSync(opts.out, text);
      else process.stdout.write(text);
    });
}
