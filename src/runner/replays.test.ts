import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LoadSummary } from '../load/samples.ts';
import { replayShare } from './run.ts';

const summaryWith = (codes: Record<string, number>): LoadSummary =>
  ({ endpoints: { create_order: { status_codes: codes } } }) as unknown as LoadSummary;

describe('replayShare: a run that replays an earlier run of the same seed is caught', () => {
  it('counts 200 replays against new orders (201, or 202 when degraded)', () => {
    assert.equal(replayShare(summaryWith({ '201': 90, '200': 10 }), 'create_order'), 0.1);
    assert.equal(replayShare(summaryWith({ '202': 30, '200': 90 }), 'create_order'), 0.75);
    assert.equal(replayShare(summaryWith({ '200': 40 }), 'create_order'), 1);
  });

  it('says nothing when no write was acknowledged', () => {
    assert.equal(replayShare(summaryWith({ '503': 12 }), 'create_order'), null);
    assert.equal(replayShare(undefined, 'create_order'), null);
  });
});
