/**
 * Timeouts on outbound calls that have no timeout of their own (PostgreSQL queries, Redis commands): this
 * module alone owns the race between a call and its timer. HTTP calls use the request's own AbortSignal
 * (lab/common/http.ts `call(…, timeoutMs)`), which also frees the socket.
 *
 * The timeout is "aggressive" (cockatiel's term): the caller gets its answer at the deadline even though a pg
 * query or Redis command may still complete later on its connection — what matters is that the request thread
 * of work is not held hostage by a dependency.
 */

/** A call took longer than its budget. */
export class TimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly dependency: string,
    readonly ms: number,
  ) {
    super(`${dependency} did not answer within ${Math.round(ms)} ms`);
  }
}

/**
 * Runs `fn`, rejecting with TimeoutError after `ms` (no timeout when `ms` is undefined: the naive path costs nothing).
 * @example const rows = await within(250, 'postgres-replica', () => pool.query(sql, args));
 */
export function within<T>(ms: number | undefined, dependency: string, fn: () => Promise<T>, onTimeout?: () => void): Promise<T> {
  if (ms === undefined) return fn();
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(new TimeoutError(dependency, ms));
    }, ms);
    fn().then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
