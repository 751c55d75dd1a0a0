/**
 * `faultline proxy`: runs the toxiproxy-compatible proxy server in the foreground until SIGINT/SIGTERM.
 * `faultline proxy ca`: creates (or shows) the local CA that TLS proxies mint their certificates from.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_STATE_DIR } from '../supervisor/state-dir.ts';
import { parsePort } from './options.ts';

const DEFAULT_CA_DIR = join(DEFAULT_STATE_DIR, 'ca');

export function registerProxy(program: Command): void {
  const proxy = program
    .command('proxy')
    .description('Run the toxiproxy-compatible TCP fault proxy (HTTP API on --host:--port).')
    .option('--host <host>', 'address the HTTP API listens on', '127.0.0.1')
    .option('--port <port>', 'port of the HTTP API (0 = any free port)', parsePort, 8474)
    .option('--config <file>', 'JSON file of proxies (with optional toxics) to create at start-up')
    .option('--ca-dir <dir>', 'local CA that "tls": {} proxies mint certificates from (created on first use)', DEFAULT_CA_DIR)
    .option('--json', 'print the start-up line as JSON')
    .addHelpText(
      'after',
      `
The API is toxiproxy's (GET /proxies, POST /proxies/{name}/toxics, POST /reset, GET /metrics, …), so
toxiproxy clients and toxiproxy-cli drive it unchanged. The config file is a JSON array of
{name, listen, upstream, enabled?, toxics?, tls?, upstream_tls?}; a toxic is
{type, stream?, name?, toxicity?, attributes?, ttl_s?}.

TLS (faultline extension, in a create/populate body or the config file):
  "tls": {}                                   terminate TLS with a certificate minted from the local CA
                                              (for localhost, 127.0.0.1, ::1 and the listen host)
  "tls": {"hosts": ["api.test"]}              … for these names too
  "tls": {"cert": "c.pem", "key": "k.pem"}    terminate TLS with this certificate
  "upstream_tls": {}                          originate TLS to the upstream (verified; servername = its host)
  "upstream_tls": {"ca": "ca.pem", "servername": "db.test", "verify": false}
Toxics then act on the decrypted stream, so http_fault (and the http_* faults) work on HTTPS.
Clients trust the CA printed by \`faultline proxy ca\`. Minting needs openssl 3.

Examples:
  faultline proxy
  faultline proxy --port 0 --config proxies.json
  curl -s -XPOST localhost:8474/proxies -d '{"name":"redis","listen":"127.0.0.1:26379","upstream":"127.0.0.1:6379"}'
  curl -s -XPOST localhost:8474/proxies -d '{"name":"web","listen":"127.0.0.1:8443","upstream":"127.0.0.1:8080","tls":{}}'
  curl --cacert "$(faultline proxy ca)" https://localhost:8443/`,
    )
    .action(async (opts: { host: string; port: number; config?: string; caDir: string; json?: boolean }) => {
      const { startProxyServer } = await import('../proxy/server.ts');
      const server = await startProxyServer({ host: opts.host, port: opts.port, configFile: opts.config, caDir: opts.caDir });
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

  proxy
    .command('ca')
    .description('Create (or show) the local CA TLS proxies mint from, and print its certificate path.')
    .option('--dir <dir>', 'the CA directory (the same as `faultline proxy --ca-dir`)', DEFAULT_CA_DIR)
    .option('--json', 'print {cert, dir, created} as JSON')
    .addHelpText(
      'after',
      `
Prints the path of the CA certificate (ca.pem) to trust; its key (ca-key.pem, 0600) stays in the directory.
Exit codes: 0 shown or created; 3 openssl missing; 4 openssl failed.

Examples:
  faultline proxy ca
  curl --cacert "$(faultline proxy ca)" https://localhost:8443/
  NODE_EXTRA_CA_CERTS="$(faultline proxy ca)" node client.js`,
    )
    .action(async (_opts: unknown, command: Command) => {
      // `proxy` has a --json of its own, which commander gives the parent: read both levels.
      const opts = command.optsWithGlobals<{ dir: string; json?: boolean }>();
      const { ensureCa } = await import('../proxy/ca.ts');
      const ca = await ensureCa(opts.dir);
      if (opts.json) process.stdout.write(`${JSON.stringify({ cert: ca.certPath, dir: ca.dir, created: ca.created })}\n`);
      else process.stdout.write(`${ca.certPath}\n`);
    });
}
