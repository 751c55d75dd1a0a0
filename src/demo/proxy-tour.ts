/**
 * The proxy tour: what `faultline demo` runs until the full lab demo exists. It puts a faultline proxy in front
 * of a local echo service, measures round trips with no fault, then under each network fault the proxy models,
 * and reports what each did to latency and throughput, removing every toxic and closing everything at the end.
 *
 *   tour ──▶ proxy "echo" (127.0.0.1:N) ──▶ echo service (127.0.0.1:M)
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { now } from '../core/clock.ts';
import { startProxyServer } from '../proxy/server.ts';

export interface TourStep {
  fault: string;
  toxic: Record<string, unknown> | null;
  round_trips: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  throughput_kbps: number;
  outcome: string;
}

export interface TourOptions {
  /** Round trips per step. */
  roundTrips?: number;
  onStep?: (step: TourStep, index: number, total: number) => void;
}

const STEPS: { fault: string; toxic: Record<string, unknown> | null }[] = [
  { fault: 'none (baseline)', toxic: null },
  { fault: 'latency 100 ms ± 10', toxic: { type: 'latency', attributes: { latency: 100, jitter: 10 } } },
  { fault: 'loss 5 % (TCP model)', toxic: { type: 'loss', attributes: { pct: 5 } } },
  { fault: 'bandwidth 1000 KB/s', toxic: { type: 'bandwidth', attributes: { rate: 1000 } } },
  { fault: 'reset_peer', toxic: { type: 'reset_peer', attributes: { timeout: 0 } } },
];

export async function runProxyTour(options: TourOptions = {}): Promise<TourStep[]> {
  const rounds = options.roundTrips ?? 40;
  const echo = createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  }).listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const server = await startProxyServer({ port: 0 });
  const results: TourStep[] = [];
  try {
    const proxy = await server.createProxy({ name: 'echo', upstream: `127.0.0.1:${(echo.address() as AddressInfo).port}` });
    for (const [i, step] of STEPS.entries()) {
      if (step.toxic) await proxy.addToxic({ name: 'tour', ...step.toxic });
      const result = await measure(proxy.port, rounds, step.fault, step.toxic);
      if (step.toxic) await proxy.removeToxic('tour');
      results.push(result);
      options.onStep?.(result, i, STEPS.length);
    }
  } finally {
    await server.close();
    echo.close();
  }
  return results;
}

async function measure(port: number, rounds: number, fault: string, toxic: Record<string, unknown> | null): Promise<TourStep> {
  const socket = connect({ host: '127.0.0.1', port, noDelay: true });
  socket.on('error', () => {});
  await once(socket, 'connect');
  const rtts: number[] = [];
  let outcome = 'ok';
  try {
    for (let i = 0; i < rounds; i++) rtts.push(await echoOnce(socket, Buffer.alloc(64, i)));
    const bulk = Buffer.alloc(256_000, 1);
    const ms = await echoOnce(socket, bulk);
    socket.destroy();
    return summarize(fault, toxic, rtts, (bulk.length / ms) * 1000 / 1000, outcome);
  } catch (err) {
    outcome = (err as Error).message;
    socket.destroy();
    return summarize(fault, toxic, rtts, 0, outcome);
  }
}

function echoOnce(socket: Socket, data: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = now();
    let got = 0;
    const onData = (chunk: Buffer): void => {
      got += chunk.length;
      if (got >= data.length) done(null);
    };
    const onEnd = (): void => done(new Error('connection closed by the fault'));
    const onError = (err: NodeJS.ErrnoException): void =>
      done(new Error(err.code === 'ECONNRESET' ? 'connection reset (RST) by the fault' : String(err.code)));
    const timer = setTimeout(() => done(new Error('no answer within 10 s')), 10_000);
    function done(err: Error | null): void {
      clearTimeout(timer);
      socket.off('data', onData).off('end', onEnd).off('error', onError);
      if (err) reject(err);
      else resolve(now() - started);
    }
    socket.on('data', onData).once('end', onEnd).once('error', onError);
    socket.write(data);
  });
}

function summarize(fault: string, toxic: Record<string, unknown> | null, rtts: number[], kbps: number, outcome: string): TourStep {
  const sorted = [...rtts].sort((a, b) => a - b);
  const q = (p: number): number => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN);
  const round = (x: number): number => Math.round(x * 100) / 100;
  return {
    fault,
    toxic,
    round_trips: rtts.length,
    p50_ms: round(q(0.5)),
    p99_ms: round(q(0.99)),
    max_ms: round(sorted.at(-1) ?? NaN),
    throughput_kbps: Math.round(kbps),
    outcome,
  };
}
