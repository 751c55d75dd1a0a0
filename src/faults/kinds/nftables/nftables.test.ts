/**
 * The nftables family without a kernel: the core runner is replaced, so these check exactly which nft commands
 * a fault runs (its own chain in its own table, loopback only, both directions) and how "already gone" answers
 * make revert and verify idempotent. The real-kernel behaviour is in test/e2e/kernel-faults.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CommandError, setRunner, type Runner } from '../../../core/exec.ts';
import { packetLoss } from './packet_loss.ts';
import { partition } from './partition.ts';

describe('nftables faults (fake nft)', () => {
  let calls: { args: string[]; input?: string }[];
  let previous: Runner;
  /** What the fake nft holds: chain name → rule count, and set name → its elements. */
  let chains: Map<string, number>;
  let sets: Map<string, string[]>;
  let table: boolean;

  beforeEach(() => {
    calls = [];
    chains = new Map();
    sets = new Map();
    table = false;
    const missing = (): never => {
      throw new CommandError('COMMAND_FAILED', 'nft failed', 1, 'Error: No such file or directory\n');
    };
    previous = setRunner(async (_cmd, args, options) => {
      calls.push({ args, input: options?.input });
      const ok = (stdout = ''): { code: number; stdout: string; stderr: string; ms: number } => ({ code: 0, stdout, stderr: '', ms: 0 });
      if (args[0] === '-f') {
        const chain = /add chain inet faultline (\S+)/.exec(options!.input!)![1];
        table = true;
        chains.set(chain, (options!.input!.match(/^add rule/gm) ?? []).length);
        const element = /add element inet faultline (\S+) \{ (.+) \}/.exec(options!.input!)!;
        sets.set(element[1], [element[2]]);
        return ok();
      }
      if (args[0] === 'delete' && args[1] === 'chain') return chains.delete(args[4]) ? ok() : missing();
      if (args[0] === 'delete' && args[1] === 'set') return sets.delete(args[4]) ? ok() : missing();
      if (args.slice(0, 3).join(' ') === '-j list set') {
        const elems = sets.get(args[5]);
        if (elems === undefined) return missing();
        return ok(JSON.stringify({ nftables: [{ set: { name: args[5], ...(elems.length > 0 ? { elem: elems } : {}) } }] }));
      }
      if (args[0] === 'delete' && args[1] === 'table') return table ? ((table = false), ok()) : missing();
      if (args.join(' ') === '-j list table inet faultline') {
        if (!table) return missing();
        return ok(JSON.stringify({ nftables: [...chains.keys()].map((name) => ({ chain: { name } })) }));
      }
      if (args.slice(0, 3).join(' ') === '-j list chain') {
        const n = chains.get(args[5]);
        if (n === undefined) return missing();
        return ok(JSON.stringify({ nftables: [{ chain: { name: args[5] } }, ...Array.from({ length: n }, () => ({ rule: {} }))] }));
      }
      throw new Error(`unexpected nft ${args.join(' ')}`);
    });
  });
  afterEach(() => setRunner(previous));

  it('packet_loss installs one chain and one port set named after the fault: loopback only, both directions, numgen per 10 000, the port expiring with the TTL', async () => {
    const ctx = { id: 'abc123', ttl_s: 60 };
    const handle = packetLoss.plan({ name: 'redis', port: 6379 }, { pct: 2.5 }, ctx);
    await packetLoss.apply(handle, { pct: 2.5 }, ctx);
    const script = calls[0].input!;
    assert.match(script, /^add table inet faultline$/m);
    assert.match(script, /^add chain inet faultline fault_abc123 \{ type filter hook input priority -10; policy accept; \}$/m);
    assert.match(script, /^flush chain inet faultline fault_abc123$/m);
    assert.match(script, /^add set inet faultline ports_abc123 \{ type inet_service; flags timeout; \}$/m);
    assert.match(script, /^add element inet faultline ports_abc123 \{ 6379 timeout 60s \}$/m);
    const rules = script.split('\n').filter((l) => l.startsWith('add rule'));
    assert.deepEqual(rules, [
      'add rule inet faultline fault_abc123 iifname "lo" tcp dport @ports_abc123 numgen random mod 10000 < 250 drop comment "faultline abc123"',
      'add rule inet faultline fault_abc123 iifname "lo" tcp sport @ports_abc123 numgen random mod 10000 < 250 drop comment "faultline abc123"',
    ]);
    assert.equal(await packetLoss.verify(handle), true);
    sets.set('ports_abc123', []); // what the kernel does when the element's timeout runs out
    assert.equal(await packetLoss.verify(handle), false, 'an expired port is no fault in effect, even with the chain still there');
  });

  it('packet_loss 100 % is a plain drop (nft refuses a comparison that cannot fail); below 0.01 % is refused', async () => {
    const ctx = { id: 'all100', ttl_s: 5 };
    await packetLoss.apply(packetLoss.plan({ name: 'redis', port: 6379 }, { pct: 100 }, ctx), { pct: 100 }, ctx);
    assert.match(calls[0].input!, /tcp dport @ports_all100 drop comment/);
    assert.equal(packetLoss.params.safeParse({ pct: 0.004 }).success, false);
    assert.equal(packetLoss.params.safeParse({ pct: 0.01 }).success, true);
  });

  it('revert deletes only its chain, the table once empty; a second revert and verify treat "gone" as done', async () => {
    const a = { id: 'aaa', ttl_s: 60 };
    const b = { id: 'bbb', ttl_s: 60 };
    const ha = partition.plan({ name: 'x', port: 1000 }, {}, a);
    const hb = partition.plan({ name: 'y', port: 2000 }, {}, b);
    await partition.apply(ha, {}, a);
    await partition.apply(hb, {}, b);
    calls = [];
    await partition.revert(ha);
    assert.deepEqual(
      calls.map((c) => c.args.join(' ')),
      ['delete chain inet faultline fault_aaa', 'delete set inet faultline ports_aaa', '-j list table inet faultline'],
      'the table stays while another fault has a chain in it',
    );
    assert.equal(await partition.verify(ha), false);
    assert.equal(await partition.verify(hb), true);
    calls = [];
    await partition.revert(hb);
    assert.ok(calls.some((c) => c.args.join(' ') === 'delete table inet faultline'));
    await partition.revert(hb); // idempotent
    assert.equal(await partition.verify(hb), false);
  });

  it('says why it cannot act: no port on the target', () => {
    assert.match(partition.unsupported({ name: 'worker' }) ?? '', /no port/);
    assert.equal(packetLoss.params.safeParse({ pct: 0 }).success, false);
    assert.equal(packetLoss.params.safeParse({ pct: 101 }).success, false);
  });
});
