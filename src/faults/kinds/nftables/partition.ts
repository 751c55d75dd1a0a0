/** partition: every loopback TCP packet to or from the target port is dropped (connects and transfers hang). */
import { z } from 'zod';
import { nftFault } from './kernel-fault.ts';

export const partition = nftFault(
  'partition',
  'drops every packet to and from the target port (nftables), so connections hang until their timeouts',
  z.strictObject({}),
  () => 'drop',
);
