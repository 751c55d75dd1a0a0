/**
 * The lending reader's buffer policy, driven the way Node drives onread (ask for a buffer, report how much was read
 * into it): grow on full reads up to 1 MiB, reuse while nothing holds the bytes, replace when they are kept, and
 * shrink only after a run of tiny reads. Pure logic: no socket is needed to decide which buffer comes next.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lendingReader } from './reader.ts';

type Lent = { buffer: () => Uint8Array; callback: (bytes: number, buf: Uint8Array) => boolean };

/** One read of `bytes` (at most the lent buffer): returns the buffer that was lent for it. */
function read(reader: Lent, bytes: number | 'full'): Uint8Array {
  const lent = reader.buffer();
  reader.callback(bytes === 'full' ? lent.length : Math.min(bytes, lent.length), lent);
  return lent;
}

describe('lendingReader', () => {
  it('grows ×4 on full reads up to 1 MiB, then reuses that buffer', () => {
    const reader = lendingReader(() => false) as Lent;
    const sizes: number[] = [];
    for (let i = 0; i < 7; i++) sizes.push(read(reader, 'full').length);
    assert.deepEqual(sizes, [2048, 8192, 32768, 131072, 524288, 1048576, 1048576]);
    const top = reader.buffer();
    read(reader, 'full');
    assert.equal(reader.buffer(), top, 'a full 1 MiB read reuses the buffer');
  });

  it('replaces the buffer when the consumer keeps the bytes, and reuses it when not', () => {
    let keep = true;
    const reader = lendingReader(() => keep) as Lent;
    const first = read(reader, 10);
    assert.notEqual(reader.buffer(), first, 'kept bytes are never overwritten by the next read');
    keep = false;
    const second = read(reader, 10);
    assert.equal(reader.buffer(), second);
  });

  it('keeps a big buffer through a few tiny reads and shrinks it after a run of them', () => {
    const reader = lendingReader(() => false) as Lent;
    while (reader.buffer().length < 1 << 20) read(reader, 'full');
    for (let i = 0; i < 15; i++) read(reader, 100);
    assert.equal(reader.buffer().length, 1 << 20, '15 tiny reads in a row do not shrink it');
    read(reader, 'full');
    for (let i = 0; i < 15; i++) read(reader, 100);
    assert.equal(reader.buffer().length, 1 << 20, 'a full read in between restarts the count');
    read(reader, 100);
    assert.equal(reader.buffer().length, 2048, 'the 16th in a row shrinks it to 4× the read, at least 2 KiB');
  });
});
