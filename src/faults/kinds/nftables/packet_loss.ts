/** packet_loss: the kernel drops pct % of the target port's loopback TCP packets at random (each direction). */
import { z } from 'zod';
import { nftFault } from './kernel-fault.ts';

export const packetLoss = nftFault(
  'packet_loss',
  'drops pct % of packets to and from the target port (nftables numgen random), so TCP really retransmits',
  // numgen draws 0..9999, so the resolution is 0.01 %: a smaller pct would drop nothing, and is refused.
  z.strictObject({ pct: z.number().min(0.01, 'must be ≥ 0.01 (the rule draws in steps of 0.01 %)').max(100) }),
  // 100 % is a plain drop: nft refuses a comparison no draw can fail.
  (p) => (Math.round(p.pct * 100) >= 10_000 ? 'drop' : `numgen random mod 10000 < ${Math.round(p.pct * 100)} drop`),
);
