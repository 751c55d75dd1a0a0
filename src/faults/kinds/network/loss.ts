/** loss: TCP-level consequences of losing pct % of segments (late data by RTO back-off), in the proxy. */
import { z } from 'zod';
import { Direction, toxicFault } from './via-proxy.ts';

export const loss = toxicFault(
  'loss',
  'loses pct % of segments; TCP retransmits them late (RTO back-off)',
  'loss',
  z.strictObject({
    pct: z.number().gt(0).lt(100),
    rto_ms: z.number().int().min(1).max(120_000).default(200),
    direction: Direction,
  }),
  (p) => ({ pct: p.pct, rto_ms: p.rto_ms }),
);
