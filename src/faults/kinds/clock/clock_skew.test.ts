/** clock_skew on a plain offset file (no process needed): what apply writes, revert restores, verify reads. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { clockSkew, readOffset } from './clock_skew.ts';

describe('clock_skew (offset file)', () => {
  it('writes "+300s" / "-300s", reverts to "+0", verifies by reading the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultline-clock-'));
    try {
      const file = join(dir, 'api');
      writeFileSync(file, '+0\n');
      const target = { name: 'api', clockFile: file };
      for (const offset_s of [300, -300]) {
        const ctx = { id: 'c1', ttl_s: 60 };
        const handle = clockSkew.plan(target, { offset_s }, ctx);
        await clockSkew.apply(handle, { offset_s }, ctx);
        assert.equal(readFileSync(file, 'utf8').trim(), `${offset_s > 0 ? '+' : ''}${offset_s}s`);
        assert.equal(await clockSkew.verify(handle), true);
        await clockSkew.revert(handle);
        await clockSkew.revert(handle);
        assert.equal(readFileSync(file, 'utf8').trim(), '+0');
        assert.equal(await clockSkew.verify(handle), false);
      }
      // The lab gone: revert creates nothing and counts as done.
      rmSync(file);
      const gone = clockSkew.plan(target, { offset_s: 5 }, { id: 'c2', ttl_s: 60 });
      await clockSkew.revert(gone);
      assert.equal(await clockSkew.verify(gone), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses libfaketime offsets with units; rejects a zero skew; says why a target without a file cannot take one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faultline-clock-'));
    try {
      const file = join(dir, 'f');
      for (const [text, s] of [['+0', 0], ['+300s', 300], ['-5m', -300], ['+1h', 3600], ['', 0]] as const) {
        writeFileSync(file, text);
        assert.equal(readOffset(file), s, text);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(clockSkew.params.safeParse({ offset_s: 0 }).success, false);
    assert.match(clockSkew.unsupported({ name: 'redis' }) ?? '', /libfaketime/);
  });
});
