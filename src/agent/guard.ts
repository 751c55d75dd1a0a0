/**
 * The agent's own failures: every hook runs its logic inside `guard`, so a bug in the agent costs the app
 * nothing but the fault it was meant to inject. Each failure is counted by hook name; the counts travel to the
 * controller with every poll (and show under the target in `GET /chaos/targets`).
 */

/** Failures per hook since the agent started. */
export const AGENT_ERRORS: Record<string, number> = {};

let lastReport = 0;

/** Counts one failure of the agent itself (and says so on stderr at most once a minute). */
export function countError(hook: string, err: unknown): void {
  AGENT_ERRORS[hook] = (AGENT_ERRORS[hook] ?? 0) + 1;
  const now = Date.now();
  if (now - lastReport > 60_000) {
    lastReport = now;
    try {
      process.stderr.write(`faultline agent: ${hook} hook failed (the app is unaffected): ${String((err as Error)?.message ?? err)}\n`);
    } catch {
      /* stderr closed: nothing more to do */
    }
  }
}

/** `fn()`, or `fallback` when it throws (counted). */
export function guard<T>(hook: string, fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (err) {
    countError(hook, err);
    return fallback;
  }
}
