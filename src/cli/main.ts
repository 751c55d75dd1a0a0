/**
 * The CLI root: builds the commander program from one file per command (listed in ./index.ts), maps errors to
 * the documented exit codes and prints them as `error [FL_CODE]: message` plus a hint. No logic lives here.
 * bin/faultline runs it built (dist/esm/cli.mjs, by scripts/build.ts) or from the sources through tsx.
 */
import { CommanderError } from 'commander';
import { EXIT, exitCodeFor } from '../core/exit.ts';
import { isFaultlineError } from '../core/errors.ts';
import { buildProgram } from './index.ts';

export { buildProgram };

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
