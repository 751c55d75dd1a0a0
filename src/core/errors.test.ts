/** The catalog cannot drift from its documentation: docs/errors.md lists every code with its status and exit. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CATALOG, FaultlineError, type ErrorCode } from './errors.ts';
import { EXIT, exitCodeFor } from './exit.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const rows = new Map(
  [...doc.matchAll(/^\| `FL_([A-Z_]+)` \| (\d+) \| (\d+) \|/gm)].map((m) => [m[1], { status: Number(m[2]), exit: Number(m[3]) }]),
);

describe('error catalog vs docs/errors.md', () => {
  it('every catalog entry is documented with its HTTP status and exit code, and nothing else is', () => {
    const problems: string[] = [];
    for (const [code, entry] of Object.entries(CATALOG)) {
      const row = rows.get(code);
      if (row === undefined) problems.push(`FL_${code} is not in docs/errors.md`);
      else if (row.status !== entry.status || row.exit !== entry.exit) problems.push(`FL_${code}: doc says ${row.status}/${row.exit}, catalog ${entry.status}/${entry.exit}`);
    }
    for (const code of rows.keys()) if (!(code in CATALOG)) problems.push(`docs/errors.md lists FL_${code}, which the catalog does not have`);
    assert.deepEqual(problems, []);
  });

  it('the exit code is the entry\'s own, not derived from its HTTP status (a missing lab is the environment: 3)', () => {
    assert.equal(exitCodeFor(new FaultlineError('LAB_NOT_RUNNING')), EXIT.ENVIRONMENT);
    assert.equal(CATALOG.LAB_NOT_RUNNING.status, 503);
    assert.equal(exitCodeFor(new FaultlineError('INVALID_INPUT')), EXIT.INVALID_INPUT);
    assert.equal(exitCodeFor(new Error('anything else')), EXIT.RUNTIME);
    for (const [code, entry] of Object.entries(CATALOG)) {
      assert.ok(Object.values(EXIT).includes(entry.exit as never), `FL_${code} exits ${entry.exit}, which is not a documented exit code`);
      assert.equal(exitCodeFor(new FaultlineError(code as ErrorCode)), entry.exit);
    }
  });
});
