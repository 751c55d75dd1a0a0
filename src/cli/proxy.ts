/** `faultline proxy`: runs the toxiproxy-compatible proxy server in the foreground until SIGINT/SIGTERM. */
import type { Command } from 'commander';
import { parsePort } from './options.ts';

export function registerProxy(program: Command): void {
  program
    .command('proxy')
    .description('Run the toxiproxy-compatible TCP fault proxy (HTTP API on --host:--port).')
    .option('--host <host>', 'address the HTTP API listens on', '127.0.0.1')
    .option('--port <port>', 'port of the HTTP API (0 = any free port)', parsePort, 8474)
    .option('--config <file>', 'JSON file of proxies (with optional toxics) to create at start-up')
    .option('--json', 'print the start-up line as JSON')
    .addHelpText(
      'after',
      `
The API is toxiproxy's (GET /proxies, POST /proxies/{name}/toxics, POST /reset, GET /metrics, …), so
toxiproxy clients and toxiproxy-cli drive it unchanged. The config file is a JSON array of
{name, listen, upstream, enabled?, toxics?: [{type, stream?, name?, toxicity?, attributes?, ttl_s?}]}.

Examples:
  faultline proxy
  faultline proxy --port 0 --config proxies.json
  curl -s -XPOST localhost:8474/proxies -d '{"name":"redis","listen":"127.0.0.1:26379","upstream":"127.0.0.1:6379"}'`,
    )
    .action(async (opts: { host: string; port: number; config?: string; json?: boolean }) => {
      const { startProxyServer } = await import('../proxy/server.ts');
      const server = await startProxyServer({ host: opts.host, port: opts.port, configFile: opts.config });
      const proxies = server.registry.list().length;
      if (opts.json) process.stdout.write(`${JSON.stringify({ url: server.url, proxies })}\n`);
      else process.stdout.write(`faultline proxy API on ${server.url} (${proxies} proxies from config)\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}
