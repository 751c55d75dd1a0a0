import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isFaultlineError } from '../core/errors.ts';
import { isCtkExperiment, loadCtkExperiment, readExperimentFile, validateCtk } from './load.ts';

const dir = mkdtempSync(join(tmpdir(), 'ctk-load-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const probe = (name: string, extra: Record<string, unknown> = {}) => ({ type: 'probe', name, tolerance: 200, provider: { type: 'http', url: 'http://127.0.0.1:1/x' }, ...extra });

test('recognises CTK experiments by shape, in JSON and YAML, and not faultline files', () => {
  const json = join(dir, 'a.json');
  writeFileSync(json, JSON.stringify({ title: 't', description: 'd', method: [] }));
  const yaml = join(dir, 'b.yaml');
  writeFileSync(yaml, 'title: t\ndescription: d\nsteady-state-hypothesis:\n  title: h\n  probes: []\nmethod: []\n');
  assert.equal(isCtkExperiment(readExperimentFile(json)), true);
  assert.equal(isCtkExperiment(readExperimentFile(yaml)), true);
  assert.equal(loadCtkExperiment(yaml).title, 't');
  assert.equal(isCtkExperiment({ title: 't', hypothesis: {}, faults: [], windows: {} }), false);
  assert.equal(isCtkExperiment({ schedule: ['a.yaml'] }), false);
  assert.equal(isCtkExperiment([1]), false);
});

test('validation reports every problem at once, each with its path, and names a refused python activity', () => {
  try {
    validateCtk({
      title: '',
      'steady-state-hypothesis': { title: 'h', probes: [{ type: 'probe', name: 'no-tol', provider: { type: 'http', url: 'http://x' } }] },
      method: [
        { type: 'action', name: 'py', provider: { type: 'python', module: 'chaosk8s.pod.actions', func: 'terminate_pods' } },
        { type: 'action', name: 'proc', provider: { type: 'process', path: 'definitely-not-a-binary-xyz' } },
        { ref: 'nope' },
        probe('bad-tol', { tolerance: { type: 'range', range: [1] } }),
        { type: 'action', name: 'toxi', provider: { type: 'python', module: 'chaostoxi.toxic.actions', func: 'create_latency_toxic', arguments: { for_proxy: 'p' } } },
      ],
      runtime: { hypothesis: { strategy: 'sometimes' } },
    });
    assert.fail('should have thrown');
  } catch (err) {
    assert.ok(isFaultlineError(err) && err.code === 'INVALID_INPUT', String(err));
    const m = (err as Error).message;
    for (const part of [
      'title:',
      'description:',
      'steady-state-hypothesis.probes[0].tolerance: a hypothesis probe needs a tolerance',
      'method[0].provider: python provider chaosk8s.pod.actions.terminate_pods (activity "py") cannot run here',
      'method[1].provider.path: path "definitely-not-a-binary-xyz" cannot be found',
      'method[2].ref: no activity named "nope"',
      'method[3].tolerance.range',
      'method[4].provider.arguments.toxic_name',
      'method[4].provider.arguments.latency',
      'runtime.hypothesis.strategy',
    ]) assert.ok(m.includes(part), `missing "${part}" in: ${m}`);
  }
});

test('a valid experiment with refs, pauses by variable and mapped python functions passes', () => {
  const exp = validateCtk({
    title: 't',
    description: 'd',
    'steady-state-hypothesis': { title: 'h', probes: [probe('p1')] },
    method: [
      { type: 'action', name: 'lat', provider: { type: 'python', module: 'chaostoxi.toxic.actions', func: 'create_latency_toxic', arguments: { for_proxy: 'p', toxic_name: 'x', latency: 100 } }, pauses: { after: '${wait}' } },
      { ref: 'p1' },
    ],
    rollbacks: [{ type: 'action', name: 'del', provider: { type: 'python', module: 'chaostoxi.toxic.actions', func: 'delete_toxic', arguments: { for_proxy: 'p', toxic_name: 'x' } } }],
  });
  assert.equal(exp.method.length, 2);
});

test('a syntax error names the line', () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'title: t\nmethod: [\n');
  assert.throws(() => readExperimentFile(bad), /bad\.yaml:\d+:\d+/);
});

test('jsonpath outside the subset and a bad faultline load extension are reported with their paths', () => {
  assert.throws(
    () =>
      validateCtk({
        title: 't',
        description: 'd',
        extensions: [{ name: 'faultline', load: { rate: 0, path: 'x', speed: 1 } }, { name: 'other', anything: true }],
        'steady-state-hypothesis': { title: 'h', probes: [probe('jp', { tolerance: { type: 'jsonpath', path: '$.a[(@.length-1)]' } })] },
        method: [],
      }),
    (err: Error) => {
      for (const part of ['extensions[0].load.speed', 'extensions[0].load.rate', 'extensions[0].load.path', 'steady-state-hypothesis.probes[0].tolerance.path']) assert.ok(err.message.includes(part), `${part}: ${err.message}`);
      assert.ok(!err.message.includes('extensions[1]'));
      return true;
    },
  );
});
