/**
 * Test helpers for the load generator's tests: a real loopback HTTP server (node:http) whose behaviour a test
 * chooses per request, recording what it received. Not part of the library API.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { now } from '../core/clock.ts';

export interface Received {
  at: number;
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface TestServer {
  url: string;
  received: Received[];
  /** When each TCP connection was accepted (monotonic ms), in order. */
  connections: number[];
  close(): Promise<void>;
}

/** What to do with one request: answer now, or later (a test that delays keeps its delays bounded). */
export type Behaviour = (req: Received, res: ServerResponse) => void;

export const answer = (status = 200, body = 'ok'): Behaviour => (_req, res) => {
  res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
};

/**
 * @example const srv = await startServer(answer()); …; await srv.close();
 */
export async function startServer(behaviour: Behaviour = answer(), { record = true } = {}): Promise<TestServer> {
  const received: Received[] = [];
  const connections: number[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        at: now(),
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      if (record) received.push(r);
      behaviour(r, res);
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on('connection', () => connections.push(now()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    connections,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
