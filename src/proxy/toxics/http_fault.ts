/**
 * http_fault: per-request HTTP faults on keep-alive (and pipelined) HTTP/1.1 connections — what Envoy's fault
 * filter does and toxiproxy never did. Some requests on a connection fail while the others on the same
 * connection go through untouched.
 *
 * It runs as a pair on one proxy: an `upstream` toxic frames requests and decides, per request, pass / delay /
 * error / hang; a `downstream` toxic (same type, its attributes unused) frames responses and slots the
 * synthetic answers in, so responses leave in request order even when requests are pipelined.
 *
 *   client ─req1─req2─req3─▶ [upstream: frame; req2 chosen → swallowed, "answer 503" queued] ─req1─req3─▶ server
 *   client ◀─res1─503─res3── [downstream: frame; expected = real, synthetic(503), real] ◀─res1─res3── server
 *
 * Modes (exactly one): `status` > 0 answers the request itself with that status; `delay_ms` > 0 holds the
 * request that long before forwarding it; `hang` = 1 swallows it and never answers (the connection goes silent:
 * a hung server answers nothing after it either). `pct` picks the requests (a per-connection PRNG seeded with
 * `seed`, or Math.random when seed = 0). The two halves of one connection meet through a per-connection state.
 * Without the downstream half, the upstream one lets requests through untouched rather than break the stream;
 * traffic it cannot frame (not HTTP/1.x, an upgrade) passes untouched. Removing the pair from a connection
 * where a request was swallowed closes that connection: its client waits for an answer that cannot come.
 */
import { isMarker, type Chunk } from '../chunk.ts';
import { INTERRUPTED, type Stub } from '../stub.ts';
import { defineToxic, int, num, type Attributes } from '../toxic.ts';
import { HttpFramer } from './http_fault_framer.ts';
import { mulberry32 } from '../../core/random.ts';

const ATTRIBUTES = {
  status: int('status', 'answer chosen requests with this status (0: not this mode)', 0, 599),
  delay_ms: int('ms', 'hold chosen requests this long before forwarding them (0: not this mode)', 0, 3_600_000),
  hang: int('bool', '1: swallow chosen requests and never answer', 0, 1),
  pct: num('%', 'share of requests chosen', 0, 100, 100),
  seed: int('', 'PRNG seed for the choice, per connection (0: random)', 0, 2 ** 31 - 1),
};

type Expected = { kind: 'real'; head: boolean } | { kind: 'synthetic'; bytes: Buffer } | { kind: 'hang' };

/** What the two halves of one connection share. */
interface ConnState {
  expected: Expected[];
  down: Stub<unknown, LinkState> | undefined;
  /** Framing gave up (not HTTP, an upgrade): both halves pass bytes through. */
  bypass: boolean;
}

interface LinkState {
  framer: HttpFramer | undefined;
  /** Upstream: what is being done to the message in progress. */
  current: 'pass' | 'delay' | 'error' | 'hang';
  hung: boolean;
  rand: (() => number) | undefined;
  /** Downstream: a registered response is in progress. */
  inResponse: boolean;
}

const conns = new WeakMap<object, ConnState>();
/** A zero-length chunk the upstream half pushes to wake the downstream half (compared by identity). */
const WAKE = Buffer.alloc(0);

/** The connection both halves belong to (the link's owner); a bare link (unit tests of one link) stands alone. */
function connOf(stub: Stub<unknown, unknown>): ConnState {
  const key = (stub.link as { owner?: object }).owner ?? stub.link;
  let state = conns.get(key);
  if (state === undefined) {
    state = { expected: [], down: undefined, bypass: false };
    conns.set(key, state);
  }
  return state;
}

const REASONS: Record<number, string> = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 429: 'Too Many Requests' };

/** The answer the proxy gives in the server's place. */
export function syntheticResponse(status: number): Buffer {
  const body = JSON.stringify({ error: `injected HTTP ${status} (faultline http_error)`, code: 'FAULTLINE_HTTP_FAULT' });
  return Buffer.from(
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Injected'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `x-faultline-fault: http_error\r\n\r\n${body}`,
    'latin1',
  );
}

type A = Attributes<typeof ATTRIBUTES>;

export const httpFault = defineToxic<typeof ATTRIBUTES, LinkState>({
  type: 'http_fault',
  summary: 'per-request HTTP faults: answer status, delay, or hang pct % of requests (add on both streams)',
  attributes: ATTRIBUTES,
  check: (a) => {
    const modes = (a.status > 0 ? 1 : 0) + (a.delay_ms > 0 ? 1 : 0) + (a.hang > 0 ? 1 : 0);
    const issues = [];
    if (a.status > 0 && a.status < 100) issues.push({ path: 'attributes.status', message: 'must be an HTTP status in [100, 599] (or 0)' });
    if (modes > 1) issues.push({ path: 'attributes', message: 'set at most one of status, delay_ms, hang' });
    return issues;
  },
  initState: () => ({ framer: undefined, current: 'pass', hung: false, rand: undefined, inResponse: false }),
  // Delayed requests pile up while they wait.
  bufferBytes: 4 << 20,
  onRemove: (stub) => {
    const conn = connOf(stub);
    const s = stub.state;
    // Dirty = bytes this toxic swallowed or still holds would leave the stream broken without it: a request
    // swallowed (hang, or an error whose body is still arriving), part of a head held back, an answer unsent.
    const holding = s.framer?.holding === true && !conn.bypass;
    const dirty =
      stub.link.stream === 'upstream'
        ? s.hung || s.current === 'error' || holding
        : holding || conn.expected.some((e) => e.kind !== 'real');
    if (stub.link.stream === 'downstream' && conn.down === (stub as unknown)) conn.down = undefined;
    if (dirty) stub.link.closeConnection();
  },
  pipe: (stub) => (stub.link.stream === 'upstream' ? requests(stub) : responses(stub)),
});

/** The upstream half: frames requests, picks some, and does the mode's thing to them. */
async function requests(stub: Stub<A, LinkState>): Promise<void> {
  const conn = connOf(stub);
  const s = stub.state;
  s.framer ??= new HttpFramer('request');
  s.rand ??= stub.attrs.seed > 0 ? mulberry32(stub.attrs.seed) : Math.random;
  for (;;) {
    const item = await stub.next();
    if (item === INTERRUPTED) return;
    if (isMarker(item)) return stub.end(item);
    if (s.hung) {
      stub.discard(item);
      continue;
    }
    if (conn.bypass) {
      stub.send(item);
      continue;
    }
    const { segments, invalid } = s.framer.feed(item.data);
    for (const seg of segments) {
      if (seg.head !== undefined) {
        const a = stub.attrs;
        // Answering in the server's place needs the downstream half to put the answer in order.
        const needsDown = a.status > 0 || a.hang > 0;
        const chosen = s.rand() * 100 < a.pct && (!needsDown || conn.down !== undefined);
        s.current = !chosen ? 'pass' : a.status > 0 ? 'error' : a.delay_ms > 0 ? 'delay' : a.hang > 0 ? 'hang' : 'pass';
        // Registered before any byte moves on, so its response can never arrive unannounced.
        if (conn.down !== undefined && (s.current === 'pass' || s.current === 'delay')) conn.expected.push({ kind: 'real', head: seg.head.method === 'HEAD' });
        if (s.current === 'delay' && !(await stub.sleepUntil(item.t + a.delay_ms))) {
          // Interrupted (update or removal): the request goes on now rather than be lost.
          stub.release({ data: seg.data, t: item.t });
          forwardRest(stub, segments, seg, invalid, item);
          return;
        }
      }
      if (s.current === 'pass' || s.current === 'delay') stub.release({ data: seg.data, t: item.t });
      else stub.discard({ data: seg.data, t: item.t });
      if (seg.end && s.current === 'error') {
        conn.expected.push({ kind: 'synthetic', bytes: syntheticResponse(stub.attrs.status) });
        s.current = 'pass';
        conn.down?.push({ data: WAKE, t: item.t });
      } else if (s.current === 'hang') {
        // Hung: nothing after this request reaches the server either (see the header).
        conn.expected.push({ kind: 'hang' });
        s.hung = true;
        for (const rest of segments.slice(segments.indexOf(seg) + 1)) stub.discard({ data: rest.data, t: item.t });
        break;
      }
    }
    if (invalid !== undefined) {
      conn.bypass = true;
      stub.release({ data: invalid, t: item.t });
    }
  }
}

/** Sends on the segments after `seg` untouched (the pipe is being interrupted mid-chunk). */
function forwardRest(stub: Stub<A, LinkState>, segments: { data: Buffer }[], seg: { data: Buffer }, invalid: Buffer | undefined, item: Chunk): void {
  for (const rest of segments.slice(segments.indexOf(seg) + 1)) stub.release({ data: rest.data, t: item.t });
  if (invalid !== undefined) stub.release({ data: invalid, t: item.t });
}

/** The downstream half: frames the responses the upstream half registered and puts synthetic ones in order. */
async function responses(stub: Stub<A, LinkState>): Promise<void> {
  const conn = connOf(stub);
  const s = stub.state;
  conn.down = stub as Stub<unknown, LinkState>;
  s.framer ??= new HttpFramer('response', () => conn.expected[0]?.kind === 'real' && conn.expected[0].head);
  const pump = (t: number): void => {
    while (!s.inResponse && conn.expected[0]?.kind === 'synthetic') {
      const next = conn.expected.shift() as { bytes: Buffer };
      stub.release({ data: next.bytes, t });
    }
  };
  for (;;) {
    const item = await stub.next();
    if (item === INTERRUPTED) return;
    if (isMarker(item)) return stub.end(item);
    if (item.data === WAKE) {
      pump(item.t);
      continue;
    }
    // Bytes no registered request asked for (answers to requests sent before the fault) pass as they are.
    if (conn.bypass || (!s.inResponse && conn.expected.length === 0)) {
      stub.send(item);
      continue;
    }
    const { segments, invalid } = s.framer.feed(item.data);
    for (const seg of segments) {
      if (seg.head !== undefined) s.inResponse = true;
      stub.release({ data: seg.data, t: item.t });
      if (seg.head?.untilClose) conn.bypass = true;
      if (seg.end) {
        s.inResponse = false;
        if (!seg.head?.interim) conn.expected.shift();
        pump(item.t);
      }
    }
    if (invalid !== undefined) {
      conn.bypass = true;
      stub.release({ data: invalid, t: item.t });
    }
  }
}
