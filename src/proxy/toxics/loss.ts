/**
 * loss: what packet loss does to a TCP stream, modelled in the proxy (toxiproxy never had it: "TCP turns loss
 * into latency", #87/#285). A TCP peer never sees a gap; it sees late data. So each chunk is cut into segments of
 * `segment_bytes`; each segment is lost with probability `pct`/100, and every loss of the same segment costs one
 * retransmission timeout that doubles per consecutive loss (RTO back-off, starting at `rto_ms`, Linux's 200 ms
 * minimum by default, capped at 120 s). Delivery stays in order, so a late segment holds back everything behind
 * it (head-of-line blocking), across chunks too.
 *
 * What the model leaves out, on purpose: fast retransmit (a bulk flow with SACK recovers most losses in about
 * one RTT, which on loopback is ~0, so the RTO path is the one that hurts), loss of ACKs, and congestion-window
 * shrinking. It therefore fits request/response traffic (where tail losses wait for the RTO) better than bulk
 * transfers, where it overstates the damage. Real per-packet loss in the kernel is the nftables fault kind.
 */
import { isMarker } from '../chunk.ts';
import { INTERRUPTED, type Stub } from '../stub.ts';
import { defineToxic, int, num, type Attributes } from '../toxic.ts';

const MAX_RTO_MS = 120_000;
/** Linux gives up after 15 retransmissions (tcp_retries2); the model caps there too. */
const MAX_RETRIES = 15;

const ATTRIBUTES = {
  pct: num('%', 'probability that one segment (and each retransmission of it) is lost', 0, 100),
  rto_ms: int('ms', 'first retransmission timeout; doubles per consecutive loss', 1, MAX_RTO_MS, 200),
  segment_bytes: int('bytes', 'segment size the stream is cut into (an MSS)', 1, 65_535, 1448),
};

interface LossState {
  /** Monotonic ms up to which this link has released data: nothing later may overtake it. */
  releasedUntil: number;
}

type LossStub = Stub<Attributes<typeof ATTRIBUTES>, LossState>;

export const loss = defineToxic({
  type: 'loss',
  summary: 'TCP-honest packet loss: lost segments arrive late by RTO back-off, in order',
  attributes: ATTRIBUTES,
  check: (a) =>
    a.pct >= 100 ? [{ path: 'attributes.pct', message: 'must be below 100 (use the timeout toxic for a dead link)' }] : [],
  bufferBytes: 8 << 20,
  initState: (): LossState => ({ releasedUntil: 0 }),
  async pipe(stub: LossStub) {
    for (;;) {
      const item = await stub.next();
      if (item === INTERRUPTED) return;
      if (isMarker(item)) {
        await stub.sleepUntil(stub.state.releasedUntil);
        return stub.end(item);
      }
      const { pct, rto_ms: rto, segment_bytes: segment } = stub.attrs;
      const p = pct / 100;
      const data = item.data;
      let start = 0;
      let release = Math.max(item.t, stub.state.releasedUntil);
      // Walk the segments; cut a piece wherever the release time moves (a lost segment), send pieces in order.
      for (let offset = 0; offset < data.length; offset += segment) {
        const due = Math.max(release, item.t + retransmissionDelay(p, rto));
        if (due > release && offset > start) {
          if (!(await releaseAt(stub, data.subarray(start, offset), release))) return flush(stub, data.subarray(start), item.t);
          start = offset;
        }
        release = due;
      }
      if (!(await releaseAt(stub, data.subarray(start), release))) return flush(stub, data.subarray(start), item.t);
      stub.state.releasedUntil = release;
      if (stub.interrupted) return;
    }
  },
});

/** Time a segment spends being retransmitted: the sum of the doubling timeouts of its consecutive losses. */
function retransmissionDelay(p: number, rto: number): number {
  let delay = 0;
  let timeout = rto;
  for (let tries = 0; tries < MAX_RETRIES && Math.random() < p; tries++) {
    delay += timeout;
    timeout = Math.min(timeout * 2, MAX_RTO_MS);
  }
  return delay;
}

async function releaseAt(stub: LossStub, piece: Buffer, due: number): Promise<boolean> {
  if (!(await stub.sleepUntil(due))) return false;
  stub.release({ data: piece, t: due }, due);
  return true;
}

function flush(stub: LossStub, rest: Buffer, t: number): void {
  if (rest.length > 0) stub.send({ data: rest, t });
}
