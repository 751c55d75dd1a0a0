/**
 * `faultline report RUN_DIR [--hypothesis FILE --out DIR] [--json]`: regenerates every report file (journal,
 * markdown, HTML, JUnit) of a run dir; with --hypothesis, judges the same stored series again with another
 * experiment's hypothesis and writes that as a new run dir. Exit: 0 (re-judged: 0 held, 1 not held), 2 not a run dir.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultlineError } from '../core/errors.ts';
import { EXIT } from '../core/exit.ts';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('Regenerate the reports of a run directory, or re-judge its series with another hypothesis.')
    .argument('<run-dir>', 'a directory written by faultline run')
    .option('--hypothesis <file>', 'an experiment file whose hypothesis judges the same series again (needs --out)')
    .option('--out <dir>', 'where the re-judged run is written')
    .option('--json', 'print the verdict as JSON')
    .action(async (dir: string, opts: { hypothesis?: string; out?: string; json?: boolean }) => {
      const [{ readRun, rejudge, writeReports, writeRun }, { loadExperiment }] = await Promise.all([import('../runner/record.ts'), import('../runner/schema.ts')]);
      let verdict;
      let where = dir;
      let files: string[];
      if (opts.hypothesis) {
        if (!opts.out) throw new FaultlineError('INVALID_INPUT', '--out: required with --hypothesis (the original run stays as it was)', { field: '--out' });
        const again = rejudge(dir, loadExperiment(opts.hypothesis));
        writeRun(opts.out, again.record, again.verdict, again.store, readFileSync(join(dir, 'fault-events.jsonl'), 'utf8'), again.requests);
        verdict = again.verdict;
        where = opts.out;
        files = ['verdict.json', 'run.json', 'series.jsonl', ...(again.requests ? ['requests.jsonl'] : [])];
      } else {
        const run = readRun(dir);
        verdict = run.verdict;
        files = writeReports(dir, run.record, verdict);
      }
      if (opts.json) process.stdout.write(`${JSON.stringify(verdict, null, 2)}\n`);
      else process.stdout.write(`${verdict.result}: wrote ${files.join(', ')}${opts.hypothesis ? ' and the reports' : ''} in ${where}\n`);
      // Regenerating reports succeeds whatever the verdict; a re-judgement answers with its verdict, like run.
      if (opts.hypothesis) process.exitCode = verdict.result === 'held' ? EXIT.OK : EXIT.HYPOTHESIS_FAILED;
    });
}
