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

/**
 * How a socket's read side ended: 'end' (FIN), 'reset' (ECONNRESET) or another error code; resolves at once
 * if that already happened (unlike ./net.ts `endOf`, which must be armed before the end arrives).
 * @example assert.equal(await endedBy(socket), 'end');
 */
export function endedBy(socket: Socket, timeoutMs = 5000): Promise<string> {
  const outcome = (): string | undefined => {
    const err = socket.errored as NodeJS.ErrnoException | null;
    if (err) return err.code === 'ECONNRESET' ? 'reset' : (err.code ?? err.message);
    if (socket.readableEnded || socket.destroyed) return 'end';
    return undefined;
  };
  const now = outcome();
  if (now !== undefined) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    const onEvent = (): void => {
      // 'error' precedes 'close'; wait a tick so `errored` is set when an error ends the socket.
      setImmediate(() => finish());
    };
    function finish(err?: Error): void {
      clearTimeout(timer);
      socket.off('end', onEvent).off('close', onEvent).off('error', onEvent);
      if (err) reject(err);
      else resolve(outcome() ?? 'end');
    }
    socket.on('end', onEvent).on('close', onEvent).on('error', onEvent);
    socket.resume();
  });
}
