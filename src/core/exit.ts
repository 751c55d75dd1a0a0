/**
 * Exit codes every faultline command uses, so a CI job can act on the outcome without parsing output.
 * Documented in the README; never renumber one.
 */
import { CATALOG, EXIT_ENVIRONMENT, EXIT_INVALID_INPUT, EXIT_RUNTIME, isFaultlineError } from './errors.ts';

export const EXIT = {
  /** Success; for an experiment, the hypothesis held. */
  OK: 0,
  /**
   * The experiment ran but the hypothesis did not hold: degraded, failed, aborted, invalid (unmeasurable), or
   * inconclusive (too little data to show it held) — or a load run was invalid.
   */
  HYPOTHESIS_FAILED: 1,
  /** Bad flags, bad files, bad values: nothing was done. */
  INVALID_INPUT: EXIT_INVALID_INPUT,
  /** The machine lacks something the command needs (a package, root, a kernel feature). */
  ENVIRONMENT: EXIT_ENVIRONMENT,
  /** Anything else went wrong at run time (a port in use, a crashed dependency). */
  RUNTIME: EXIT_RUNTIME,
  /** Interrupted (Ctrl-C / SIGTERM) after cleaning up. */
  INTERRUPTED: 130,
} as const;

/** Maps an error thrown by a command to the exit code the CLI ends with: the one its catalog entry names. */
export function exitCodeFor(err: unknown): number {
  if (!isFaultlineError(err)) return EXIT.RUNTIME;
  return CATALOG[err.code].exit;
}
