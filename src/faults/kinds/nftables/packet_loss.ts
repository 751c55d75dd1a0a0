/** packet_loss: the kernel drops pct % of the target port's loopback TCP packets at random (each direction). */
import { z } from 'zod';
import { nftFault } from './kernel-fault.ts';

export const packetLoss = nftFault(
  'packet_loss',
  'drops pct % of packets to and from the target port (nftables numgen random), so TCP really retransmits',
  z.strictObject({ pct: z.number().gt(0).max(100) }),
  // numgen draws 0..9999 so fractional percentages (0.5 %) keep their meaning.
  (p) => `numgen random mod 10000 < ${Math.round(p.pct * 100)} drop`,
);
