/**
 * event_loop_block: the process's event loop is blocked for block_ms every every_ms (a synchronous spin inside
 * the process: timers, I/O callbacks and requests all wait) — starvation without a CPU quota.
 *
 * @example {"type":"event_loop_block","target":"shop","params":{"block_ms":200,"every_ms":1000}}
 */
import { z } from 'zod';
import { agentFault } from './via-agent.ts';

const Params = z
  .strictObject({
    block_ms: z.number().int().min(1).max(60_000),
    every_ms: z.number().int().min(10).max(600_000).default(1_000),
  })
  .refine((p) => p.block_ms < p.every_ms, { message: 'block_ms must be shorter than every_ms', path: ['block_ms'] });

export const event_loop_block = agentFault('event_loop_block', 'blocks the event loop for block_ms every every_ms', Params, (p) => ({ type: 'event_loop_block', block_ms: p.block_ms, every_ms: p.every_ms }));
