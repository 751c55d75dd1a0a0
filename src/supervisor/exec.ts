/**
 * The supervisor's one runner for external commands (initdb, pg_basebackup, …): every call is logged to the
 * caller's log, bounded by a timeout and can run as another user. Replaceable in tests via `setRunner`.
 */
import { spawn } from 'node:child_process';
import { FaultlineError } from '../core/errors.ts';

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  /** Kill the command (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  /** Receives one line per command run and its outcome. */
  log?: (line: string) => void;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

export type Runner = (cmd: string, args: string[], options?: RunOptions) => Promise<RunResult>;

/** Runs `cmd args…`; resolves with its output when it exits 0, throws LAB_START_FAILED otherwise. */
export const defaultRunner: Runner = (cmd, args, options = {}) =>
  new Promise((resolve, reject) => {
    const started = Date.now();
    const shown = `${cmd} ${args.join(' ')}`;
    options.log?.(`exec: ${shown}`);
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      uid: options.uid,
      gid: options.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new FaultlineError('LAB_START_FAILED', `cannot run ${cmd}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      options.log?.(`exec: ${cmd} exited ${code ?? signal} in ${ms} ms`);
      if (code === 0) return resolve({ code, stdout, stderr, ms });
      const tail = (stderr || stdout).trim().split('\n').slice(-5).join(' | ');
      reject(new FaultlineError('LAB_START_FAILED', `${shown} failed (${code ?? signal}): ${tail}`));
    });
  });

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
