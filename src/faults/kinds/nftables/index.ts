/** The nftables family: real kernel packet loss and partitions on loopback ports. One file per type + one line here. */
import type { Injector } from '../../injector.ts';
import { packetLoss } from './packet_loss.ts';
import { partition } from './partition.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const NFTABLES: readonly Injector<any, any>[] = [packetLoss, partition];
