import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MITIGATION_NAMES, MitigationsError, MitigationState, parseMitigations } from './mitigations.ts';

test('presets: none is every switch off, all is every switch on', () => {
  const none = parseMitigations('none');
  const all = parseMitigations('all');
  for (const k of MITIGATION_NAMES) {
    assert.equal(none[k].enabled, false, k);
    assert.equal(all[k].enabled, true, k);
  }
  assert.deepEqual(parseMitigations(undefined), none, 'no block means the naive "before"');
});

test('a block: preset, then per-mitigation true / false / overrides', () => {
  const m = parseMitigations({ preset: 'all', limiter: false, retries: { budget_percent: 10 }, breaker: { enabled: false, window: 50 } });
  assert.equal(m.limiter.enabled, false);
  assert.equal(m.retries.enabled, true);
  assert.equal(m.retries.budget_percent, 10);
  assert.equal(m.retries.max_attempts, 3, 'untouched fields keep their defaults');
  assert.equal(m.breaker.enabled, false);
  assert.equal(m.breaker.window, 50);
  const only = parseMitigations({ bulkheads: true });
  assert.equal(only.bulkheads.enabled, true);
  assert.equal(only.timeouts.enabled, false, 'preset defaults to none');
});

test('every problem is reported at once, with its path', () => {
  assert.throws(
    () => parseMitigations({ preset: 'some', nope: 1, retries: { max_attempts: 0.5, bogus: 1 }, limiter: { algorithm: 'vegas' }, degrade: 'yes' }),
    (err: unknown) => {
      assert.ok(err instanceof MitigationsError);
      assert.deepEqual(err.issues.map((i) => i.path).sort(), ['degrade', 'limiter.algorithm', 'nope', 'preset', 'retries.bogus', 'retries.max_attempts']);
      return true;
    },
  );
  assert.throws(() => parseMitigations('most'), /unknown preset "most"/);
  assert.throws(() => parseMitigations({ limiter: { min: 50, max: 10 } }), /limiter\.min/);
});

test('MitigationState: from LAB_MITIGATIONS (name or JSON), live changes reach listeners', () => {
  assert.equal(MitigationState.fromEnv({}).current.breaker.enabled, false);
  assert.equal(MitigationState.fromEnv({ LAB_MITIGATIONS: 'all' }).current.breaker.enabled, true);
  const state = MitigationState.fromEnv({ LAB_MITIGATIONS: '{"preset":"none","degrade":true}' });
  assert.equal(state.current.degrade.enabled, true);
  const seen: boolean[] = [];
  state.onChange((m) => seen.push(m.degrade.enabled));
  state.set(parseMitigations('none'));
  assert.deepEqual(seen, [false]);
  assert.equal(state.current.degrade.enabled, false);
});

test('round trip: the resolved settings (what GET /__lab/mitigations answers) parse back to themselves', () => {
  for (const block of ['all', 'none', { preset: 'all', limiter: false, retries: { min_per_s: 1 } }, { bulkheads: true }] as const) {
    const resolved = parseMitigations(block);
    assert.deepEqual(parseMitigations(JSON.parse(JSON.stringify(resolved))), resolved);
  }
});
