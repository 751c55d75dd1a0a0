/**
 * Child processes the proxy bench spawns so that load source, proxy under test and sink never share a core's
 * event loop. Talks to the parent over the IPC channel and exits when the parent goes away.
 *
 *   `servers` mode:  source  (reads "N\n", writes N bytes, ends)   ── what throughput and bandwidth pull from
 *                    echo    (writes back what it reads)            ── what ping-pong bounces off
 *                    holders (accept and hold idle sockets, count)  ── opened and closed on request
 *   `pipe` mode:     a naive `client.pipe(upstream).pipe(client)` proxy, one listener per upstream port
 *
 * Run as: node --import tsx bench/lib/helper.ts servers | pipe <port>[,<port>…]
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export type HelperCommand = { op: 'hold-open' } | { op: 'hold-count'; port: number } | { op: 'hold-close'; port: number };
export type HelperRequest = HelperCommand & { id: number };
export type HelperMessage = { ready: number[] } | { id: number; port?: number; count?: number };

const HOST = '127.0.0.1';
/** What the source writes from: one shared block, never mutated, so a write never copies. */
const BLOCK = Buffer.alloc(4 << 20, 0x5a);

function send(message: HelperMessage): void {
  process.send?.(message);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port: 0, backlog: 4096 }, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

function serveSource(socket: Socket): void {
  let header = '';
  const onData = (data: Buffer): void => {
    header += data.toString('latin1');
    const eol = header.indexOf('\n');
    if (eol < 0) return;
    socket.off('data', onData);
    let left = Number(header.slice(0, eol));
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, BLOCK.length);
        left -= n;
        if (!socket.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) {
          socket.once('drain', pump);
          return;
        }
      }
      socket.end();
    };
    pump();
  };
  socket.on('data', onData);
}

async function servers(): Promise<void> {
  const quiet = (socket: Socket): void => {
    socket.on('error', () => {});
  };
  const source = createServer({ noDelay: true }, (s) => {
    quiet(s);
    serveSource(s);
  });
  const echo = createServer({ noDelay: true }, (s) => {
    quiet(s);
    s.on('data', (d) => s.write(d));
  });
  const holders = new Map<number, { server: Server; sockets: Set<Socket> }>();
  const ports = [await listen(source), await listen(echo)];

  process.on('message', async (req: HelperRequest) => {
    if (req.op === 'hold-open') {
      const sockets = new Set<Socket>();
      const server = createServer((s) => {
        quiet(s);
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      const port = await listen(server);
      holders.set(port, { server, sockets });
      send({ id: req.id, port });
    } else if (req.op === 'hold-count') {
      send({ id: req.id, count: holders.get(req.port)?.sockets.size ?? 0 });
    } else {
      const holder = holders.get(req.port);
      holders.delete(req.port);
      holder?.server.close();
      for (const s of holder?.sockets ?? []) s.destroy();
      send({ id: req.id });
    }
  });
  send({ ready: ports });
}

async function pipeProxy(upstreams: number[]): Promise<void> {
  const ports: number[] = [];
  for (const upstreamPort of upstreams) {
    const server = createServer({ noDelay: true }, (client) => {
      const upstream = connect({ host: HOST, port: upstreamPort, noDelay: true });
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    ports.push(await listen(server));
  }
  send({ ready: ports });
}

// The parent owns this process: when it goes (normally, on error or Ctrl-C), so does the helper.
process.on('disconnect', () => process.exit(0));

const [mode, arg] = process.argv.slice(2);
if (mode === 'servers') await servers();
else if (mode === 'pipe') await pipeProxy((arg ?? '').split(',').map(Number));
else {
  process.stderr.write('usage: helper.ts servers | pipe <port>[,<port>…]\n');
  process.exit(2);
}
