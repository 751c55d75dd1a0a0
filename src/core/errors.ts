/**
 * The one error catalog. Every failure faultline reports to a user carries a stable `code` (callers and tests
 * match on it, never on the message), the HTTP status an API answers with, the exit code a command ends with, and,
 * where we know one, a hint that says what to do about it. Adding an error = one entry in CATALOG, plus its row
 * in docs/errors.md (a test holds the two together).
 *
 * @example
 *   throw new FaultlineError('PROXY_NOT_FOUND');
 *   throw new FaultlineError('INVALID_INPUT', 'attributes.rate: must be ≥ 0 (got -1)', { field: 'attributes.rate' });
 */

/** Exit codes of the CLI (src/core/exit.ts re-exports them as EXIT); an error's own code says which it ends with. */
export const EXIT_INVALID_INPUT = 2;
export const EXIT_ENVIRONMENT = 3;
export const EXIT_RUNTIME = 4;

interface CatalogEntry {
  readonly status: number;
  /** The exit code a CLI command ends with when this error stops it (documented in docs/errors.md). */
  readonly exit: number;
  readonly message: string;
  readonly hint?: string;
}

export const CATALOG = {
  INVALID_INPUT: { status: 400, exit: EXIT_INVALID_INPUT, message: 'invalid input' },
  BAD_REQUEST_BODY: { status: 400, exit: EXIT_INVALID_INPUT, message: 'bad request body' },
  MISSING_FIELD: { status: 400, exit: EXIT_INVALID_INPUT, message: 'missing required field' },
  INVALID_STREAM: { status: 400, exit: EXIT_INVALID_INPUT, message: 'stream was invalid, can be either upstream or downstream' },
  INVALID_TOXIC_TYPE: {
    status: 400, exit: EXIT_INVALID_INPUT,
    message: 'invalid toxic type',
    hint: 'one of: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, noop, loss',
  },
  FORBIDDEN_USER_AGENT: {
    status: 403, exit: EXIT_INVALID_INPUT,
    message: 'User agent not allowed',
    hint: 'the API refuses browsers so a web page cannot drive it; use a client library or curl',
  },
  ROUTE_NOT_FOUND: { status: 404, exit: EXIT_INVALID_INPUT, message: '404 page not found' },
  PROXY_NOT_FOUND: { status: 404, exit: EXIT_INVALID_INPUT, message: 'proxy not found' },
  TOXIC_NOT_FOUND: { status: 404, exit: EXIT_INVALID_INPUT, message: 'toxic not found' },
  METHOD_NOT_ALLOWED: { status: 405, exit: EXIT_INVALID_INPUT, message: 'method not allowed' },
  PROXY_EXISTS: { status: 409, exit: EXIT_INVALID_INPUT, message: 'proxy already exists' },
  TOXIC_EXISTS: { status: 409, exit: EXIT_INVALID_INPUT, message: 'toxic already exists' },
  LISTEN_FAILED: { status: 500, exit: EXIT_RUNTIME, message: 'listen failed', hint: 'pick another port, or port 0 for an ephemeral one' },
  CONFIG_INVALID: { status: 400, exit: EXIT_INVALID_INPUT, message: 'invalid configuration file' },
  CAPABILITY_MISSING: { status: 500, exit: EXIT_ENVIRONMENT, message: 'this machine lacks a capability the operation needs' },
  INTERNAL: { status: 500, exit: EXIT_RUNTIME, message: 'internal error' },
  TARGET_UNREACHABLE: { status: 502, exit: EXIT_RUNTIME, message: 'the target (or the proxy in front of it) cannot be reached' },
  UNKNOWN_TARGET: { status: 400, exit: EXIT_INVALID_INPUT, message: 'unknown target', hint: '`GET /chaos/targets` lists the registered targets' },
  UNKNOWN_FAULT_TYPE: { status: 400, exit: EXIT_INVALID_INPUT, message: 'unknown fault type', hint: '`faultline doctor` lists the fault types' },
  FAULT_NOT_FOUND: { status: 404, exit: EXIT_INVALID_INPUT, message: 'fault not found' },
  TARGET_BUSY: {
    status: 409, exit: EXIT_INVALID_INPUT,
    message: 'the target already has an active fault',
    hint: 'revert it first, or pass "concurrent": true to stack faults on purpose',
  },
  UNAUTHORIZED: { status: 401, exit: EXIT_INVALID_INPUT, message: 'a token is required for this request', hint: 'send Authorization: Bearer <token>' },
  REVERT_FAILED: { status: 500, exit: EXIT_RUNTIME, message: 'the fault could not be reverted; it stays active and will be retried' },
  LAB_NOT_RUNNING: {
    status: 503, exit: EXIT_ENVIRONMENT,
    message: 'the lab is not running',
    hint: 'start it with `faultline up --detach` (same --state-dir)',
  },
  LAB_ALREADY_RUNNING: {
    status: 409, exit: EXIT_INVALID_INPUT,
    message: 'a lab is already running on this state dir',
    hint: '`faultline status` shows it; `faultline down` stops it',
  },
  LAB_START_FAILED: { status: 500, exit: EXIT_RUNTIME, message: 'the lab failed to start', hint: 'see the logs under <state-dir>/logs/' },
  COMMAND_FAILED: { status: 500, exit: EXIT_RUNTIME, message: 'an external command failed', hint: 'the controller log shows the command and its output' },
  BAD_URL: { status: 400, exit: EXIT_INVALID_INPUT, message: 'malformed request URL', hint: 'percent-escapes must encode valid UTF-8 (e.g. %C3%A9), and the path must be at most 2048 bytes' },
  BODY_TOO_LARGE: { status: 413, exit: EXIT_INVALID_INPUT, message: 'request body too large' },
  FORBIDDEN_HOST: {
    status: 403, exit: EXIT_INVALID_INPUT,
    message: 'this Host is not the controller\'s own',
    hint: 'reach the controller as 127.0.0.1, localhost or [::1] (a foreign Host header is how DNS rebinding reads a local API)',
  },
  APPLY_FAILED: { status: 500, exit: EXIT_RUNTIME, message: 'the fault could not be applied; nothing stays in effect', hint: 'the controller log has the details' },
  HALT_IN_PROGRESS: { status: 409, exit: EXIT_INVALID_INPUT, message: 'a halt is reverting every fault; injects are refused until it returns', hint: 'retry once the halt has answered' },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof CATALOG;

export interface FaultlineErrorOptions {
  /** Dotted path of the offending input field, when there is one. */
  field?: string;
  hint?: string;
  cause?: unknown;
}

export class FaultlineError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly hint: string | undefined;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message?: string, options: FaultlineErrorOptions = {}) {
    const entry: CatalogEntry = CATALOG[code];
    super(message ?? entry.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FaultlineError';
    this.code = code;
    this.status = entry.status;
    this.hint = options.hint ?? entry.hint;
    this.field = options.field;
  }

  /** The code as users see it in output and JSON bodies: `FL_PROXY_NOT_FOUND`. */
  get publicCode(): string {
    return `FL_${this.code}`;
  }
}

export function isFaultlineError(err: unknown): err is FaultlineError {
  return err instanceof FaultlineError;
}

/** One problem found while validating input; validators collect all of them before throwing. */
export interface Issue {
  path: string;
  message: string;
}

/** Throws one INVALID_INPUT error listing every issue, or returns when there are none. */
export function throwIfIssues(issues: Issue[], prefix = ''): void {
  if (issues.length === 0) return;
  const text = issues.map((i) => `${prefix}${i.path}: ${i.message}`).join('; ');
  throw new FaultlineError('INVALID_INPUT', text, { field: `${prefix}${issues[0].path}` });
}
