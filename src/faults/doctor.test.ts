import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { doctor } from './doctor.ts';
import { defineInjector } from './injector.ts';
import { FAULT_TYPES, type AnyInjector } from './registry.ts';

const fake = (type: string, probe?: () => Promise<string | null>): AnyInjector =>
  defineInjector({
    type,
    family: 'test',
    summary: type,
    params: z.strictObject({}),
    unsupported: () => null,
    mechanism: (t) => `acts on ${t.name}`,
    plan: () => ({}),
    apply: async () => {},
    revert: async () => {},
    verify: async () => false,
    ...(probe ? { probe } : {}),
  });

describe('doctor', () => {
  it('lists every type with its family and mechanism; a probe reason or a throwing probe makes it unsupported', async () => {
    const types = new Map<string, AnyInjector>([
      ['plain', fake('plain')],
      ['needs-root', fake('needs-root', async () => 'not root')],
      ['broken', fake('broken', async () => { throw new Error('boom'); })],
    ]);
    const report = await doctor(types);
    assert.equal(report.all_supported, false);
    assert.deepEqual(report.types.map((r) => [r.type, r.supported]), [['plain', true], ['needs-root', false], ['broken', false]]);
    assert.equal(report.types[1].reason, 'not root');
    assert.match(report.types[2].reason!, /boom/);
    assert.equal(report.types[0].mechanism, 'acts on service');
  });

  it('covers every registered fault type', async () => {
    const report = await doctor();
    assert.deepEqual(report.types.map((r) => r.type).sort(), [...FAULT_TYPES.keys()].sort());
    for (const family of ['process', 'dependency', 'http', 'agent']) assert.ok(report.types.some((r) => r.family === family), family);
  });
});
