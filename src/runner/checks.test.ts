/** Integrity checks of a system file: commands for real here (SQL checks run on the example's database in e2e). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runIntegrityChecks } from './checks.ts';

test('command checks: exit code or a JSON ok, each result saying what was expected and found', async () => {
  const results = await runIntegrityChecks([
    { name: 'passes', command: { argv: ['sh', '-c', 'exit 0'], expect: 'exit0', cwd: '/' } },
    { name: 'fails', command: { argv: ['sh', '-c', 'exit 3'], expect: 'exit0', cwd: '/' } },
    { name: 'json_ok', command: { argv: ['sh', '-c', 'echo \'{"ok": true, "orders": 5}\''], expect: 'json-ok', cwd: '/' } },
    { name: 'json_bad', command: { argv: ['sh', '-c', 'echo \'{"ok": false}\''], expect: 'json-ok', cwd: '/' } },
    { name: 'missing', command: { argv: ['/nonexistent/check'], expect: 'exit0', cwd: '/' } },
  ]);
  assert.deepEqual(results.map((r) => [r.name, r.ok]), [['passes', true], ['fails', false], ['json_ok', true], ['json_bad', false], ['missing', false]]);
  assert.equal(results[1].found, 'exit code 3');
  assert.match(results[4].found, /cannot run/);
});

test('an SQL check that cannot reach its database fails, saying why', async () => {
  const [r] = await runIntegrityChecks([{ name: 'db', sql: { url: 'postgres://x@127.0.0.1:9/x', query: 'SELECT 1', expect: 1 } }]);
  assert.equal(r.ok, false);
  assert.match(r.found, /error: .*ECONNREFUSED/);
});
