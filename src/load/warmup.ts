/**
 * The generator's warm-up, done before its schedule's t0 so the first seconds of a run measure the target, not a
 * cold client: the JIT, undici's parser (compiled on the first connection), the first-call cost of each second's
 * bookkeeping, the target's DNS lookup and TCP handshakes. It owns two steps and sends nothing to the target:
 *
 *   rehearsal: the run's own mix and seed, through a real Engine + LoadClient + Aggregator, at REHEARSAL_RPS for
 *              rehearsal_ms, against a sink server in this process (127.0.0.1:0) — counted in a scratch
 *              aggregator, thrown away, reported only as `warmup.rehearsal_requests`; cut off rehearsal_ms + 0.2 s
 *              after it starts (≈ 0.25 s in all on an idle machine; a CPU-starved one stretches every timer, and
 *              the summary's `warmup.duration_ms` says by how much)
 *   preconnect: `connections` TCP connections to the target, handed to the run's pool as its first connections
 *
 * Why not warm up on the target itself: its counters, its data (a POST creates an order) and the seed's request
 * set (same seed ⇒ same requests on the wire) would all see requests the run did not plan.
 */
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { now } from '../core/clock.ts';
import { Aggregator } from './aggregate.ts';
import { Schedule } from './arrivals.ts';
import { LoadClient, preconnect } from './client.ts';
import { Engine } from './engine.ts';
import { RequestFactory, type CompiledMix } from './mix.ts';
import { RateProfile } from './profile.ts';

/** What a run's warm-up did (the summary's `warmup`; null when it was turned off). */
export interface WarmupReport {
  /** Wall time from the start of the warm-up to the schedule's t0. */
  duration_ms: number;
  /** Requests rehearsed against the in-process sink: never sent to the target, never counted in the results. */
  rehearsal_requests: number;
  /** Connections to the target opened before t0 (the pool uses them first). */
  connections_opened: number;
  /** Requests sent to the target during the warm-up: always 0 (kept explicit so reports can say so). */
  target_requests: 0;
}

export interface WarmupSettings {
  /** Length of the rehearsal, ms (0 = none). Default 200. */
  rehearsal_ms?: number;
  /** Connections to open to the target before t0. Default: 1 per 100 req/s of the plan's peak, 2 to `connections`. */
  connections?: number;
}

/** Fast enough to get the hot path optimised in a quarter second, slow enough to cost ~30 ms of CPU. */
export const REHEARSAL_RPS = 2000;
export const DEFAULT_REHEARSAL_MS = 200;
/** However slow the machine, the rehearsal gives up this long after its schedule's end (what is left is cut). */
const REHEARSAL_GRACE_MS = 200;

/**
 * How many connections to open before t0 for a plan peaking at `peakRps`: enough for 10 ms of latency at the
 * peak (the pool opens more if the target is slower), at least 2, at most the pool's size.
 * @example warmConnections(10_000, 128) // 100
 */
export function warmConnections(peakRps: number, poolSize: number): number {
  return Math.max(1, Math.min(poolSize, Math.max(2, Math.ceil(peakRps / 100))));
}

/**
 * Warms the generator up and opens the target's first connections; resolves with the report and the sockets to
 * hand to the run's LoadClient.
 * @example
 *   const { report, spare } = await warmUp({ mix, seed: 42, prefix: '', origin: 'http://127.0.0.1:8080',
 *                                            connections: 8, timeout_ms: 10_000 });
 */
export async function warmUp(o: {
  mix: CompiledMix;
  seed: number;
  prefix: string;
  origin: string;
  connections: number;
  timeout_ms: number;
  rehearsal_ms?: number;
  signal?: AbortSignal;
}): Promise<{ report: WarmupReport; spare: Socket[] }> {
  const t0 = now();
  const rehearsalMs = o.rehearsal_ms ?? DEFAULT_REHEARSAL_MS;
  // The handshakes run while the rehearsal does: neither waits for the other.
  const sockets = preconnect(o.origin, o.signal?.aborted ? 0 : o.connections, Math.min(o.timeout_ms, 2000));
  const rehearsed = rehearsalMs > 0 && !o.signal?.aborted ? await rehearse(o.mix, o.seed, o.prefix, rehearsalMs, o.signal) : 0;
  const spare = await sockets;
  return {
    report: {
      duration_ms: Math.round(now() - t0),
      rehearsal_requests: rehearsed,
      connections_opened: spare.length,
      target_requests: 0,
    },
    spare,
  };
}

/** The run's hot path end to end against a sink in this process; returns how many requests it sent there. */
async function rehearse(mix: CompiledMix, seed: number, prefix: string, ms: number, signal?: AbortSignal): Promise<number> {
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' }).end('ok'));
  });
  sink.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const { port } = sink.address() as AddressInfo;
  const profile = RateProfile.of([{ duration_ms: ms, from_rps: REHEARSAL_RPS, to_rps: REHEARSAL_RPS }]);
  const agg = new Aggregator(mix.endpoints.map((e) => e.name), mix.endpoints.map((e) => e.expect));
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), ms + REHEARSAL_GRACE_MS);
  const onAbort = (): void => deadline.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await new Engine({
      profile,
      schedule: new Schedule(profile, 'uniform', seed),
      factory: new RequestFactory(mix, seed, prefix),
      client: new LoadClient({ origin: `http://127.0.0.1:${port}`, connections: 16, pipelining: 1, timeout_ms: 2000 }),
      agg,
      maxInFlight: 10_000,
      lagThreshold_ms: 1000,
      drain_ms: REHEARSAL_GRACE_MS,
      spin_ms: 0,
      keepHistograms: true,
      onSecond: () => {},
      signal: deadline.signal,
    }).run();
    return agg.totals().total.sent;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    const closed = new Promise<void>((resolve) => sink.close(() => resolve()));
    sink.closeAllConnections();
    await closed;
  }
}
