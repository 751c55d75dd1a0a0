/**
 * Exit codes every faultline command uses, so a CI job can act on the outcome without parsing output.
 * Documented in the README; never renumber one.
 */
import { CATALOG, isFaultlineError, type ErrorCode } from './errors.ts';

export const EXIT = {
  /** Success; for an experiment, the hypothesis held. */
  OK: 0,
  /**
   * The experiment ran but the hypothesis did not hold: degraded, failed, aborted, invalid (unmeasurable), or
   * inconclusive (too little data to show it held) — or a load run was invalid.
   */
  HYPOTHESIS_FAILED: 1,
  /** Bad flags, bad files, bad values: nothing was done. */
  INVALID_INPUT: 2,
  /** The machine lacks something the command needs (a package, root, a kernel feature). */
  ENVIRONMENT: 3,
  /** Anything else went wrong at run time (a port in use, a crashed dependency). */
  RUNTIME: 4,
  /** Interrupted (Ctrl-C / SIGTERM) after cleaning up. */
  INTERRUPTED: 130,
} as const;

const INPUT_CODES = new Set<ErrorCode>(
  (Object.keys(CATALOG) as ErrorCode[]).filter((c) => CATALOG[c].status >= 400 && CATALOG[c].status < 500),
);

/** Maps an error thrown by a command to the exit code the CLI ends with. */
export function exitCodeFor(err: unknown): number {
  if (!isFaultlineError(err)) return EXIT.RUNTIME;
  if (err.code === 'CAPABILITY_MISSING') return EXIT.ENVIRONMENT;
  if (INPUT_CODES.has(err.code)) return EXIT.INVALID_INPUT;
  return EXIT.RUNTIME;
}
