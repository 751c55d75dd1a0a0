import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfiguration, loadSecrets, parseVar, substitute } from './substitute.ts';

test('a whole "${x}" keeps its type; inside text it is spliced; unknown names stay as they are', () => {
  const config = { port: 8080, host: 'h', flags: { a: 1 } };
  assert.equal(substitute('${port}', config, {}), 8080);
  assert.deepEqual(substitute('${flags}', config, {}), { a: 1 });
  assert.equal(substitute('http://${host}:${port}/x', config, {}), 'http://h:8080/x');
  assert.equal(substitute('${missing} and ${host}', config, {}), '${missing} and h');
  assert.deepEqual(substitute({ a: ['${host}', 3, { b: '${port}' }] }, config, {}), { a: ['h', 3, { b: 8080 }] });
});

test('configuration first, then secret scopes; env entries with types and defaults; no direct env expansion', () => {
  const env = { PORT: '9090', TOKEN: 's3cret', HOME: '/root' };
  const config = loadConfiguration({ port: { type: 'env', key: 'PORT', env_var_type: 'int' }, name: { type: 'env', key: 'NOPE', default: 'dflt' }, same: 'config' }, env);
  assert.deepEqual(config, { port: 9090, name: 'dflt', same: 'config' });
  const secrets = loadSecrets({ api: { token: { type: 'env', key: 'TOKEN' }, same: 'secret' } }, env);
  assert.equal(substitute('${token}', config, secrets), 's3cret');
  assert.equal(substitute('${same}', config, secrets), 'config');
  assert.equal(substitute('${HOME}', config, secrets), '${HOME}');
  assert.throws(() => loadConfiguration({ x: { type: 'env', key: 'UNSET_VAR_XYZ' } }, {}), /configuration\.x: environment variable UNSET_VAR_XYZ is not set/);
});

test('--var overrides configuration, with CTK types', () => {
  const vars = parseVar('port:int=80', {});
  parseVar('name=x=y', vars);
  assert.deepEqual(loadConfiguration({ port: 1 }, {}, vars), { port: 80, name: 'x=y' });
  assert.throws(() => parseVar('port:int=eighty', {}), /not an integer/);
});
