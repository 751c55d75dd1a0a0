/**
 * Small loopback fixtures shared by tests: an echo server, a client that collects bytes, and a poll-until
 * helper that replaces sleep-and-hope. Everything listens on 127.0.0.1:0 and is closed by the caller.
 */
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export interface EchoServer {
  readonly port: number;
  readonly address: string;
  readonly sockets: Set<Socket>;
  close(): Promise<void>;
}

/** A TCP server that writes back every byte it reads, and half-closes when its peer does. */
export async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    sockets,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Connects to 127.0.0.1:port and resolves once connected. */
export async function connectTo(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  return socket;
}

/** Reads from a socket until `bytes` have arrived (or the socket ends), with a deadline. */
export function readBytes(socket: Socket, bytes: number, timeoutMs = 5000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms with ${got}/${bytes} bytes`)), timeoutMs);
    function onData(chunk: Buffer): void {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= bytes) finish();
    }
    function onEnd(): void {
      finish();
    }
    function finish(err?: Error): void {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    }
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}

/** How a socket ended: 'end' (FIN), 'reset' (ECONNRESET) or another error code; with a deadline. */
export function endOf(socket: Socket, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    if (socket.readableEnded) return resolve('end');
    if (socket.destroyed) return resolve(socket.errored ? 'reset' : 'end');
    const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    socket.resume();
    socket.once('end', () => {
      clearTimeout(timer);
      resolve('end');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ECONNRESET' ? 'reset' : (err.code ?? err.message));
    });
  });
}

/** Polls `check` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 5000, everyMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

/** Sends `payload` and resolves with the milliseconds until as many bytes came back (an echo round trip). */
export async function roundTrip(socket: Socket, payload: Buffer | string, timeoutMs = 5000): Promise<number> {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const started = performance.now();
  const reply = readBytes(socket, data.length, timeoutMs);
  socket.write(data);
  const got = await reply;
  if (!got.equals(data)) throw new Error(`echo mismatch: sent ${data.length} bytes, got ${got.length}`);
  return performance.now() - started;
}

/**
 * How late a timed effect may be in a test on a loaded 2-core CI machine (other test files, a lab starting).
 * Lower bounds stay exact: a delay must never come early. Accuracy itself is measured in bench/, not here.
 */
export const SLACK_MS = Number(process.env.FAULTLINE_TEST_SLACK_MS ?? 200);
