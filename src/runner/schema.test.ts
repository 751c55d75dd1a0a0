import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadExperiment, loadExperiments } from './schema.ts';

const dir = mkdtempSync(join(tmpdir(), 'fl-schema-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const write = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

test('the committed CI experiment is valid and resolves its mix next to it', () => {
  const exp = loadExperiment(new URL('../../experiments/payments-latency-ci.yaml', import.meta.url).pathname);
  assert.equal(exp.windows.fault_s, 18);
  assert.match(exp.mix_path, /experiments\/mixes\/lab-default\.yaml$/);
  assert.equal(exp.hypothesis.sli[0].quantile, 0.99);
});

test('every error is reported at once, each with its path', () => {
  const file = write(
    'bad.yaml',
    `title: x
hypothesis:
  name: h
  window_s: 0
  sli:
    - { name: a, metric: latency_p42, route: /orders, steady_state: 1 }
    - { name: b, metric: error_rate, route: /orders, steady_state: -1 }
  stop_condition:
    - { sli: nope, above: 1 }
windows: { fault_s: 0 }
load: { rate: 10 }
faults: []
bogus: 1
`,
  );
  assert.throws(
    () => loadExperiment(file),
    (err: { code: string; message: string }) => {
      assert.equal(err.code, 'INVALID_INPUT');
      for (const path of ['hypothesis.window_s', 'hypothesis.sli[0].metric', 'hypothesis.sli[1].steady_state', 'windows.fault_s', 'load.seed', 'faults', '(root)']) {
        assert.ok(err.message.includes(`${path}:`), `missing ${path} in: ${err.message}`);
      }
      return true;
    },
  );
});

test('cross-field checks: unknown SLI in a stop condition, offset outside the window, above and below', () => {
  const file = write(
    'cross.yaml',
    `title: x
hypothesis:
  name: h
  sli: [{ name: a, metric: error_rate, route: /orders, steady_state: 0.01 }]
  stop_condition: [{ sli: nope, above: 1, below: 0 }]
  fault: missing
windows: { fault_s: 5 }
load: { rate: 10, seed: 1 }
faults: [{ type: latency, target: payments, offset_s: 9 }]
`,
  );
  assert.throws(() => loadExperiment(file), (err: Error) => {
    assert.match(err.message, /hypothesis\.stop_condition\[0\]\.sli: unknown SLI "nope"/);
    assert.match(err.message, /hypothesis\.stop_condition\[0\]: give exactly one of above \/ below/);
    assert.match(err.message, /hypothesis\.fault: no fault named "missing"/);
    assert.match(err.message, /faults\[0\]\.offset_s: must be inside the fault window/);
    return true;
  });
});

test('two faults on one target at once need concurrent: true; back to back, or on other targets, they do not', () => {
  const exp = (faults: string): string =>
    write(
      'overlap.yaml',
      `title: x
hypothesis:
  name: h
  sli: [{ name: a, metric: error_rate, source: server, route: /orders, steady_state: 0.01 }]
windows: { fault_s: 60 }
load: { rate: 10, seed: 1 }
faults:
${faults}`,
    );
  const cap = '  - { type: memory_limit, target: orders-2, params: { mb: 48 }, duration_s: 30 }\n';
  assert.throws(
    () => loadExperiment(exp(`${cap}  - { type: heap_growth, target: orders-2, offset_s: 5 }\n`)),
    (err: { code: string; message: string }) => {
      assert.equal(err.code, 'INVALID_INPUT');
      assert.match(err.message, /faults\[1\]: heap_growth on orders-2 overlaps faults\[0\] \(memory_limit\) on the same target: .*set concurrent: true/);
      return true;
    },
  );
  // Without a duration a fault lasts to the end of the window, so one listed later at the same offset overlaps it.
  assert.throws(() => loadExperiment(exp('  - { type: latency, target: payments }\n  - { type: loss, target: payments }\n')), /faults\[1\]: loss on payments overlaps faults\[0\]/);
  assert.equal(loadExperiment(exp(`${cap}  - { type: heap_growth, target: orders-2, offset_s: 5, concurrent: true }\n`)).faults[1].concurrent, true);
  assert.equal(loadExperiment(exp(`${cap}  - { type: memory_limit, target: orders-2, offset_s: 30 }\n`)).faults.length, 2);
  assert.equal(loadExperiment(exp(`${cap}  - { type: latency, target: payments, offset_s: 5 }\n`)).faults[1].concurrent, false);
});

test('YAML syntax errors carry line and column; a schedule lists experiments in order', () => {
  assert.throws(() => loadExperiment(write('syntax.yaml', 'title: [unclosed\n')), /syntax\.yaml:\d+:\d+/);
  const ci = new URL('../../experiments/payments-latency-ci.yaml', import.meta.url).pathname;
  const sched = write('sched.yaml', `schedule: [${ci}, ${ci}]\n`);
  assert.equal(loadExperiments(sched).length, 2);
  assert.throws(() => loadExperiments(write('sched2.yaml', `schedule: [${ci}, nowhere.yaml]\n`)), /schedule\[1\] \(nowhere\.yaml\)/);
});

test('recovery.intervention: optional text saying what has to happen for the system to heal; an empty one is an error with its path', () => {
  const exp = (recovery: string): string => `title: x
hypothesis: { name: h, sli: [{ name: a, metric: error_rate, route: /orders, source: server, steady_state: 0.01 }] }
windows: {}
load: { rate: 10, seed: 1 }
faults: [{ type: kill, target: backend }]
recovery: ${recovery}
`;
  assert.equal(loadExperiment(write('heal.yaml', exp('{ intervention: "the supervisor restarts the killed process" }'))).recovery.intervention, 'the supervisor restarts the killed process');
  assert.equal(loadExperiment(write('self.yaml', exp('{ consecutive_s: 3 }'))).recovery.intervention, undefined);
  assert.throws(() => loadExperiment(write('empty.yaml', exp('{ intervention: "  " }'))), /recovery\.intervention: say what has to happen/);
});
