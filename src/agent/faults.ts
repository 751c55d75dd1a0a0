/**
 * What a call_error raises: the error each client library raises on the real failure, built the same way, so
 * the app's own error handling (retries on ECONNRESET, SQLSTATE checks, ReplyError checks) takes the path it
 * would take in production. Nothing here is a generic `throw new Error('fault')`.
 *
 *   http/https  a system error on the request: `read ECONNRESET` (errno, code, syscall) emitted as 'error'
 *   fetch       TypeError('fetch failed') with that system error as `cause` (undici's shape)
 *   pg          pg's DatabaseError with severity and SQLSTATE `code`, or 'Connection terminated unexpectedly'
 *   ioredis     ioredis' ReplyError ('<PREFIX> message', with .command), or a socket error / 'Connection is closed.'
 */

/** Error codes a call_error may name, per library family (the default first). */
export const CALL_ERROR_CODES = {
  http: ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND'],
  fetch: ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'UND_ERR_SOCKET'],
  pg: ['57P01', 'ECONNRESET', '<any SQLSTATE: five digits or capitals>'],
  ioredis: ['ERR', 'ECONNRESET', 'CONNECTION_CLOSED', '<any reply prefix in capitals: READONLY, LOADING, OOM, BUSY, …>'],
} as const;

const ERRNO: Record<string, [number, string]> = {
  ECONNRESET: [-104, 'read'],
  ECONNREFUSED: [-111, 'connect'],
  ETIMEDOUT: [-110, 'connect'],
  EPIPE: [-32, 'write'],
  EHOSTUNREACH: [-113, 'connect'],
  ENOTFOUND: [-3008, 'getaddrinfo'],
};

/** A Node system error as the socket layer raises it. */
export function systemError(code: string, host: string, port: number): NodeJS.ErrnoException {
  const [errno, syscall] = ERRNO[code] ?? ERRNO.ECONNRESET;
  const c = ERRNO[code] ? code : 'ECONNRESET';
  const where = syscall === 'connect' ? ` ${host}:${port}` : syscall === 'getaddrinfo' ? ` ${host}` : '';
  const err = new Error(`${syscall} ${c}${where}`) as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  Object.assign(err, { errno, code: c, syscall });
  if (syscall === 'connect') Object.assign(err, { address: host, port });
  if (syscall === 'getaddrinfo') Object.assign(err, { hostname: host });
  return err;
}

/** What global fetch rejects with on a network failure. */
export function fetchError(code: string, host: string, port: number): TypeError {
  let cause: Error;
  if (code === 'UND_ERR_SOCKET') {
    cause = Object.assign(new Error('other side closed'), { name: 'SocketError', code: 'UND_ERR_SOCKET' });
  } else cause = systemError(code, host, port);
  return new TypeError('fetch failed', { cause });
}

const PG_MESSAGES: Record<string, [string, string]> = {
  '57P01': ['FATAL', 'terminating connection due to administrator command'],
  '57014': ['ERROR', 'canceling statement due to statement timeout'],
  '40001': ['ERROR', 'could not serialize access due to concurrent update'],
  '40P01': ['ERROR', 'deadlock detected'],
  '53300': ['FATAL', 'sorry, too many clients already'],
  '53100': ['ERROR', 'could not extend file: No space left on device'],
  '25006': ['ERROR', 'cannot execute INSERT in a read-only transaction'],
  '23505': ['ERROR', 'duplicate key value violates unique constraint'],
};

/** pg's DatabaseError (from the pg module the app loaded), or the error pg raises when its socket dies. */
export function pgError(DatabaseError: (new (message: string, length: number, name: string) => Error) | undefined, code: string, message?: string): Error {
  if (code === 'ECONNRESET') return new Error(message ?? 'Connection terminated unexpectedly');
  const [severity, text] = PG_MESSAGES[code] ?? ['ERROR', 'faultline: injected database error'];
  const msg = message ?? text;
  const err = DatabaseError ? new DatabaseError(msg, msg.length, 'error') : Object.assign(new Error(msg), { name: 'error', length: msg.length });
  return Object.assign(err, { severity, code });
}

/** ioredis' ReplyError (from the ioredis module the app loaded), or a connection failure. */
export function redisError(ReplyError: (new (message: string) => Error) | undefined, code: string, command: { name: string; args: unknown[] }, host: string, port: number, message?: string): Error {
  if (code === 'ECONNRESET') return systemError('ECONNRESET', host, port);
  if (code === 'CONNECTION_CLOSED') return new Error('Connection is closed.');
  const text = `${code} ${message ?? 'faultline: injected error'}`;
  const err = ReplyError ? new ReplyError(text) : Object.assign(new Error(text), { name: 'ReplyError' });
  return Object.assign(err, { command: { name: command.name, args: command.args } });
}

/** The error a route_exception throws inside the request's handling. */
export class InjectedException extends Error {
  constructor(method: string, path: string, id: string, message?: string) {
    super(message ?? `faultline: exception injected in ${method} ${path} (fault ${id})`);
    this.name = 'Error';
  }
}
