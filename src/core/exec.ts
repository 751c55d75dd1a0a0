/**
 * faultline's one runner for external commands (initdb, pg_basebackup, nft, mount, fallocate, …): every call is
 * logged to the caller's log, bounded by a timeout, can run as another user and feed the command's stdin.
 * Tests replace it with `setRunner` to see (or fake) exactly what would be run.
 *
 * @example await run('nft', ['-f', '-'], { input: 'add table inet faultline\n', errorCode: 'COMMAND_FAILED' })
 */
import { spawn } from 'node:child_process';
import { FaultlineError, type ErrorCode } from './errors.ts';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** Written to the command's stdin (which is closed afterwards); without it stdin is /dev/null. */
  input?: string;
  /** Kill the command (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  /** Receives one line per command run and its outcome. */
  log?: (line: string) => void;
  /**
   * The error code a failure is reported with: the supervisor's start-up steps say LAB_START_FAILED (the
   * default, what a user of `up` needs to see), fault injectors say COMMAND_FAILED.
   */
  errorCode?: ErrorCode;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export type Runner = (cmd: string, args: string[], options?: RunOptions) => Promise<RunResult>;

/** Runs `cmd args…`; resolves with its output when it exits 0, throws `options.errorCode` otherwise. */
export const defaultRunner: Runner = (cmd, args, options = {}) =>
  new Promise((resolve, reject) => {
    const started = Date.now();
    const shown = `${cmd} ${args.join(' ')}`;
    const code: ErrorCode = options.errorCode ?? 'LAB_START_FAILED';
    options.log?.(`exec: ${shown}`);
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      uid: options.uid,
      gid: options.gid,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (options.input !== undefined) {
      // A command that exits without reading its stdin makes the write fail with EPIPE: its exit code says more.
      child.stdin?.on('error', () => {});
      child.stdin?.end(options.input);
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new FaultlineError(code, `cannot run ${cmd}: ${err.message}`, { cause: err }));
    });
    child.once('close', (exit, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      options.log?.(`exec: ${cmd} exited ${exit ?? signal} in ${ms} ms`);
      if (exit === 0) return resolve({ code: exit, stdout, stderr, ms });
      const tail = (stderr || stdout).trim().split('\n').slice(-5).join(' | ');
      reject(new CommandError(code, `${shown} failed (${exit ?? signal}): ${tail}`, exit ?? -1, stderr));
    });
  });

/** A command that ran and exited non-zero: callers that expect some failures (e.g. "no such table") read stderr. */
export class CommandError extends FaultlineError {
  readonly exitCode: number;
  readonly stderr: string;

  constructor(code: ErrorCode, message: string, exitCode: number, stderr: string) {
    super(code, message);
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

let current: Runner = defaultRunner;

/** The runner in effect (tests swap it with `setRunner`). */
export function run(cmd: string, args: string[], options?: RunOptions): Promise<RunResult> {
  return current(cmd, args, options);
}

/** Replaces the runner, returning the previous one. */
export function setRunner(runner: Runner): Runner {
  const previous = current;
  current = runner;
  return previous;
}
