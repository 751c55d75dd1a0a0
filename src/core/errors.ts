/**
 * The one error catalog. Every failure faultline reports to a user carries a stable `code` (callers and tests
 * match on it, never on the message), the HTTP status an API answers with, and, where we know one, a hint that
 * says what to do about it. Adding an error = one entry in CATALOG.
 *
 * @example
 *   throw new FaultlineError('PROXY_NOT_FOUND');
 *   throw new FaultlineError('INVALID_INPUT', 'attributes.rate: must be ≥ 0 (got -1)', { field: 'attributes.rate' });
 */

interface CatalogEntry {
  readonly status: number;
  readonly message: string;
  readonly hint?: string;
}

export const CATALOG = {
  INVALID_INPUT: { status: 400, message: 'invalid input' },
  BAD_REQUEST_BODY: { status: 400, message: 'bad request body' },
  MISSING_FIELD: { status: 400, message: 'missing required field' },
  INVALID_STREAM: { status: 400, message: 'stream was invalid, can be either upstream or downstream' },
  INVALID_TOXIC_TYPE: {
    status: 400,
    message: 'invalid toxic type',
    hint: 'one of: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, noop, loss',
  },
  FORBIDDEN_USER_AGENT: {
    status: 403,
    message: 'User agent not allowed',
    hint: 'the API refuses browsers so a web page cannot drive it; use a client library or curl',
  },
  ROUTE_NOT_FOUND: { status: 404, message: '404 page not found' },
  PROXY_NOT_FOUND: { status: 404, message: 'proxy not found' },
  TOXIC_NOT_FOUND: { status: 404, message: 'toxic not found' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  PROXY_EXISTS: { status: 409, message: 'proxy already exists' },
  TOXIC_EXISTS: { status: 409, message: 'toxic already exists' },
  LISTEN_FAILED: { status: 500, message: 'listen failed', hint: 'pick another port, or port 0 for an ephemeral one' },
  CONFIG_INVALID: { status: 400, message: 'invalid configuration file' },
  CAPABILITY_MISSING: { status: 500, message: 'this machine lacks a capability the operation needs' },
  INTERNAL: { status: 500, message: 'internal error' },
  TARGET_UNREACHABLE: { status: 502, message: 'the target (or the proxy in front of it) cannot be reached' },
  UNKNOWN_TARGET: { status: 400, message: 'unknown target', hint: '`GET /chaos/targets` lists the registered targets' },
  UNKNOWN_FAULT_TYPE: { status: 400, message: 'unknown fault type', hint: '`faultline doctor` lists the fault types' },
  FAULT_NOT_FOUND: { status: 404, message: 'fault not found' },
  TARGET_BUSY: {
    status: 409,
    message: 'the target already has an active fault',
    hint: 'revert it first, or pass "concurrent": true to stack faults on purpose',
  },
  UNAUTHORIZED: { status: 401, message: 'a token is required for this request', hint: 'send Authorization: Bearer <token>' },
  REVERT_FAILED: { status: 500, message: 'the fault could not be reverted; it stays active and will be retried' },
  LAB_NOT_RUNNING: {
    status: 503,
    message: 'the lab is not running',
    hint: 'start it with `faultline up --detach` (same --state-dir)',
  },
  LAB_ALREADY_RUNNING: {
    status: 409,
    message: 'a lab is already running on this state dir',
    hint: '`faultline status` shows it; `faultline down` stops it',
  },
  LAB_START_FAILED: { status: 500, message: 'the lab failed to start', hint: 'see the logs under <state-dir>/logs/' },
  COMMAND_FAILED: { status: 500, message: 'an external command failed', hint: 'the controller log shows the command and its output' },
  BAD_URL: { status: 400, message: 'malformed request URL', hint: 'percent-escapes must encode valid UTF-8 (e.g. %C3%A9), and the path must be at most 2048 bytes' },
  BODY_TOO_LARGE: { status: 413, message: 'request body too large' },
  FORBIDDEN_HOST: {
    status: 403,
    message: 'this Host is not the controller\'s own',
    hint: 'reach the controller as 127.0.0.1, localhost or [::1] (a foreign Host header is how DNS rebinding reads a local API)',
  },
  APPLY_FAILED: { status: 500, message: 'the fault could not be applied; nothing stays in effect', hint: 'the controller log has the details' },
  HALT_IN_PROGRESS: { status: 409, message: 'a halt is reverting every fault; injects are refused until it returns', hint: 'retry once the halt has answered' },
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
