/** `faultline token`: prints a bearer token the running lab's api accepts. */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_STATE_DIR } from '../supervisor/state-dir.ts';

function parseTtl(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0 || n > 31_536_000) throw new InvalidArgumentError(`must be whole seconds in [1, 31536000] (got "${value}")`);
  return n;
}

export function registerToken(program: Command): void {
  program
    .command('token')
    .description('Print a JWT (HS256, with exp/nbf) for the running lab: curl -H "authorization: Bearer $(faultline token)" …')
    .option('--state-dir <dir>', 'the lab state dir', DEFAULT_STATE_DIR)
    .option('--ttl-s <seconds>', 'validity in seconds', parseTtl, 3600)
    .option('--sub <subject>', 'the token subject', 'faultline')
    .option('--json', 'print {token, sub, expires_at} as JSON')
    .action(async (opts: { stateDir: string; ttlS: number; sub: string; json?: boolean }) => {
      const { labToken } = await import('../supervisor/token.ts');
      const token = labToken(opts.stateDir, opts.ttlS, opts.sub);
      if (opts.json) process.stdout.write(`${JSON.stringify({ token, sub: opts.sub, expires_at: new Date(Date.now() + opts.ttlS * 1000).toISOString() })}\n`);
      else process.stdout.write(`${token}\n`);
    });
}
