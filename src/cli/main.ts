/**
 * The CLI root: builds the commander program from one file per command (listed in ./index.ts), maps errors to
 * the documented exit codes and prints them as `error [FL_CODE]: message` plus a hint. No logic lives here.
 * bin/faultline runs it built (dist/esm/cli.mjs, by scripts/build.ts) or from the sources through tsx.
 */
import { Command, CommanderError } from 'commander';
import { VERSION } from '../core/version.ts';
import { EXIT, exitCodeFor } from '../core/exit.ts';
import { isFaultlineError } from '../core/errors.ts';
import { prepare } from './before-use.ts';
import { COMMANDS } from './index.ts';

export function buildProgram(): Command {
  const program = new Command('faultline')
    .description('Chaos-engineering workbench: inject faults, drive load, get a verdict with numbers.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of COMMANDS) register(program);
  program.hook('preSubcommand', (_program, command) => prepare(command));
  // commander's own `help X` prints X's help without its hooks; this one is the same command, prepared first.
  program
    .command('help')
    .argument('[command]')
    .description('display help for command')
    .helpOption(false)
    .action(async (name?: string) => {
      const command = name === undefined ? undefined : program.commands.find((c) => c.name() === name || c.aliases().includes(name));
      if (command === undefined) return program.help({ error: name !== undefined });
      await prepare(command);
      command.help();
    });
  return program;
}

/** Prints an error the way every command does, and returns the exit code for it. */
export function reportError(err: unknown): number {
  if (isFaultlineError(err)) {
    process.stderr.write(`error [${err.publicCode}]: ${err.message}\n`);
    if (err.hint) process.stderr.write(`hint: ${err.hint}\n`);
  } else {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  return exitCodeFor(err);
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0; usage errors are invalid input.
      process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.INVALID_INPUT;
      return;
    }
    process.exitCode = reportError(err);
  }
}

// `faultline … | head` closes stdout early: that is the reader's choice, not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

await main(process.argv);
