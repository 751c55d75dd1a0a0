/** `faultline init`: writes a commented starter system file (faultline.yaml) for one service and its dependencies. */
import { InvalidArgumentError, type Command } from 'commander';

function parsePortArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65_535) throw new InvalidArgumentError(`must be a port 1–65535 (got "${value}")`);
  return n;
}

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('Write a starter system file (faultline.yaml) for your service: its command, port and dependencies.')
    .requiredOption('--command <cmd>', 'the command that starts the service, e.g. "node server.mjs"')
    .requiredOption('--port <port>', 'the port the service listens on', parsePortArg)
    .option('--name <name>', 'the system\'s name (lower-case)', 'app')
    .option('--service <name>', "the service's name (default: the system's)")
    .option('--dep <name=host:port...>', 'a dependency it calls, reached through a fault proxy (repeat the flag)', (v: string, all: string[] = []) => [...all, v], [] as string[])
    .option('--health <path|tcp>', 'its readiness check: an HTTP path, or tcp', '/healthz')
    .option('-o, --out <file>', 'write here instead of standard output (refuses to overwrite)')
    .addHelpText(
      'after',
      `
Examples:
  faultline init --name shop --command "node server.mjs" --port 8080 --dep redis=127.0.0.1:6379 > faultline.yaml
  faultline init --command "python app.py" --port 5000 --health tcp -o faultline.yaml
The file is checked by the same loader \`faultline up\` uses before it is written. docs/own-services.md walks
through a complete one (examples/shop/faultline.yaml).`,
    )
    .action(async (opts: { command: string; port: number; name: string; service?: string; dep: string[]; health: string; out?: string }) => {
      const { starterSystemFile } = await import('../system/init.ts');
      const { validateSystem } = await import('../system/system.ts');
      const { parse } = await import('yaml');
      const { FaultlineError } = await import('../core/errors.ts');
      const text = starterSystemFile({ name: opts.name, command: opts.command, port: opts.port, deps: opts.dep, service: opts.service, health: opts.health });
      const { issues } = validateSystem(parse(text));
      if (issues.length > 0) throw new FaultlineError('INVALID_INPUT', issues.map((i) => `${i.path}: ${i.message}`).join('; '));
      if (opts.out === undefined) return void process.stdout.write(text);
      const { existsSync, writeFileSync } = await import('node:fs');
      if (existsSync(opts.out)) throw new FaultlineError('INVALID_INPUT', `${opts.out} exists; not overwritten`, { field: '--out' });
      writeFileSync(opts.out, text);
      process.stderr.write(`wrote ${opts.out}; start it with: faultline up --detach --system ${opts.out}\n`);
    });
}
