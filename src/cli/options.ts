/**
 * What commands share: option parsers (each rejects bad input with INVALID_INPUT naming the flag) and the
 * conventions of every command — colour only on a TTY and never with NO_COLOR, progress (a live line on a TTY,
 * plain lines otherwise), --quiet. conventions.test.ts checks them over the whole command tree.
 */
import { InvalidArgumentError, type Command } from 'commander';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError(`must be an integer in [0, 65535] (got "${value}")`);
  }
  return port;
}

// ─── conventions every command shares (checked for the whole tree by conventions.test.ts) ───────────────────

type Stream = { isTTY?: boolean; write(chunk: string): boolean };

/**
 * Colour only on a terminal, and never when NO_COLOR is set to anything but "" (no-color.org) or TERM is dumb.
 * @example const c = palette(process.stdout); process.stdout.write(c.ok('held'));
 */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
}

/** SGR wrappers for one stream: identity when `useColour` says no, so callers never test it themselves. */
export function palette(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Record<'ok' | 'bad' | 'dim' | 'bold', (s: string) => string> {
  const on = useColour(stream, env);
  const sgr = (open: number, close: number) => (s: string): string => (on ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return { ok: sgr(32, 39), bad: sgr(31, 39), dim: sgr(2, 22), bold: sgr(1, 22) };
}

/**
 * Progress for anything that takes more than a few seconds: on a TTY one live line rewritten in place; otherwise
 * plain lines, at most one per `every_ms` (logs and CI stay readable); nothing at all with --quiet.
 * @example const p = progressLine(process.stderr, { quiet }); p.update(`baseline 42 s left`); …; p.done();
 */
export function progressLine(stream: Stream & { columns?: number }, { quiet = false, every_ms = 5000, now = Date.now } = {}): { update(text: string): void; done(): void } {
  let shown = false;
  let last = -Infinity;
  return {
    update(text) {
      if (quiet) return;
      if (stream.isTTY === true) {
        stream.write(`\r\x1b[2K${text.slice(0, Math.max(20, (stream.columns ?? 160) - 1))}`);
        shown = true;
      } else if (now() - last >= every_ms) {
        last = now();
        stream.write(`${text}\n`);
      }
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
  };
}

const QUIET_HELP = 'only the result: no progress or notes on stderr (errors still print)';
/** What still reaches stderr under --quiet: errors, their hints, and regressions (a result of `run --compare`). */
const ALWAYS = /^(error|hint:|regressed:)/;
let quietOn = false;

/** Adds --quiet to every command of the tree that does not define it (main.ts, once all are registered). */
export function addQuiet(command: Command): void {
  for (const sub of command.commands) {
    const short = sub.options.some((o) => o.short === '-q') ? '' : '-q, ';
    if (!sub.options.some((o) => o.long === '--quiet')) sub.option(`${short}--quiet`, QUIET_HELP);
    addQuiet(sub);
  }
}

/** Before an action: with --quiet, stderr keeps only errors (whoever writes them: commands, libraries, main.ts). */
export function applyQuiet(action: Command): void {
  if (quietOn || action.optsWithGlobals<{ quiet?: boolean }>().quiet !== true) return;
  quietOn = true;
  const write = process.stderr.write.bind(process.stderr) as (...a: unknown[]) => boolean;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (ALWAYS.test(typeof chunk === 'string' ? chunk : String(chunk))) return write(chunk, ...rest);
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }) as typeof process.stderr.write;
}
