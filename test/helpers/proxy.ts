/**
 * A proxied echo fixture for toxic tests: an echo server, a faultline proxy in front of it, and clients that
 * are all closed by `close()`.
 */
import type { Socket } from 'node:net';
import { Proxy } from '../../src/proxy/proxy.ts';
import { connectTo, startEchoServer, type EchoServer } from './net.ts';

export interface ProxiedEcho {
  readonly echo: EchoServer;
  readonly proxy: Proxy;
  /** A new client connected through the proxy. */
  client(): Promise<Socket>;
  close(): Promise<void>;
}

export async function proxiedEcho(name = 'echo'): Promise<ProxiedEcho> {
  const echo = await startEchoServer();
  const proxy = await Proxy.create({ name, listen: '127.0.0.1:0', upstream: echo.address });
  const clients: Socket[] = [];
  return {
    echo,
    proxy,
    async client() {
      const socket = await connectTo(proxy.port);
      socket.on('error', () => {});
      clients.push(socket);
      return socket;
    },
    async close() {
      for (const c of clients) c.destroy();
      proxy.close();
      await echo.close();
    },
  };
}
