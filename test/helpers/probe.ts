/**
 * Probes for proving what a proxy really does to a TCP client: whether a port accepts, and how long an echo
 * round trip takes. They complement ./net.ts (echo server, connectTo, readBytes, endOf, waitFor).
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { readBytes } from './net.ts';

/**
 * Tries to connect to 127.0.0.1:port and closes at once: 'connected', or the error code (e.g. 'ECONNREFUSED').
 * @example assert.equal(await connectOutcome(port), 'ECONNREFUSED');
 */
export function connectOutcome(port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => done('ETIMEDOUT'), timeoutMs);
    socket.once('connect', () => done('connected'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    function done(outcome: string): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    }
  });
}

/**
 * Writes `payload` to a socket connected (through a proxy) to an echo server and waits for it to come back.
 * Returns what came back and the round trip in milliseconds (monotonic clock).
 */
export async function echoRoundTrip(socket: Socket, payload: string, timeoutMs = 5000): Promise<{ reply: string; ms: number }> {
  const start = performance.now();
  const reading = readBytes(socket, Buffer.byteLength(payload), timeoutMs);
  socket.write(payload);
  const reply = (await reading).toString('utf8');
  return { reply, ms: performance.now() - start };
}
