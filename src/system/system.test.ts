/** The system file loader: every problem at once with its line, templates, replicas, proxies, init, schema. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { starterSystemFile } from './init.ts';
import { systemJsonSchema } from './schema.ts';
import { expand, loadSystem } from './system.ts';

const dir = mkdtempSync(join(tmpdir(), 'faultline-system-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const problems = (path: string): string[] => {
  try {
    loadSystem(path);
  } catch (err) {
    return (err as Error).message.split('\n').slice(1);
  }
  return [];
};

describe('system file', () => {
  it('reports every problem at once, each with file:line:col and its path', () => {
    const path = file(
      'bad.yaml',
      [
        'name: shop',
        'services:',
        '  web:',
        '    command: [node, app.js]',
        '    port: 8080',
        '    after: [db, cache]',
        '    env: { A: "${deps.nope.url}", B: "${wat}", C: "${deps.db.url}" }',
        '  db: { type: postgres, port: 8080, replica_of: web }',
        'dependencies:',
        '  db: { upstream: db, listen: "+432" }',
        '  ext: { upstream: "10.0.0.1:80", listen: "+433" }',
        'entry: { via: nowhere }',
        'counters: { calls: { proxy: ghost, measure: connections } }',
      ].join('\n'),
    );
    const found = problems(path);
    const expected: [number, RegExp][] = [
      [6, /services\.web\.after\[1\]: no service named "cache"/],
      [7, /services\.web\.env\.A: \$\{deps\.nope\.url\}: no dependency/],
      [7, /services\.web\.env\.B: \$\{wat\}: not a known template/],
      [8, /services\.db\.replica_of: must name a postgres service/],
      [8, /services\.db\.port: port 8080 is also services\.web\.port/],
      [11, /dependencies\.ext\.upstream: a service of this file or a loopback host:port/],
      [12, /entry\.via: a dependency/],
      [13, /counters\.calls\.proxy: no dependency named "ghost"/],
    ];
    for (const [line, re] of expected) {
      assert.ok(found.some((p) => p.startsWith(`${path}:${line}:`) && re.test(p)), `missing ${re} at line ${line} in:\n${found.join('\n')}`);
    }
    assert.equal(found.length, expected.length, found.join('\n'));
  });

  it('checks each service by its own type, and the top level, in one pass', () => {
    const path = file('types.yaml', 'name: Shop\nservices:\n  q: { type: kafka }\n  p: { type: postgres }\n  w: { command: [], port: "x" }\n');
    const found = problems(path);
    assert.ok(found.some((p) => /:1:7: name: lower-case/.test(p)), found.join('\n'));
    assert.ok(found.some((p) => /:3:\d+: services\.q\.type: unknown service type "kafka"; one of: command, job, postgres, redis, attached/.test(p)));
    assert.ok(found.some((p) => /services\.p\.port/.test(p)), 'a postgres service needs a port');
    assert.ok(found.some((p) => /services\.w\.command/.test(p)));
    assert.ok(found.some((p) => /services\.w\.port: an absolute port/.test(p)));
  });

  it('a bad alias or broken YAML is a problem with its line, never a crash', () => {
    assert.match(problems(file('alias.yaml', 'name: x\nservices:\n  a: *nothing\n')).join('') || errorOf(file('alias.yaml', 'name: x\nservices:\n  a: *nothing\n')), /alias\.yaml:3/);
    assert.match(errorOf(file('broken.yaml', 'name: x\nservices: [\n')), /broken\.yaml:\d+:\d+/);
  });

  it('expands replicas, proxies and templates, with offsets from the base port', () => {
    const path = file(
      'ok.yaml',
      [
        'name: shop',
        'base_port: 30000',
        'services:',
        '  db: { type: postgres, port: "+1", user: app, database: shop }',
        '  web:',
        '    command: [node, app.js, "--port=${self.port}"]',
        '    port: "+10"',
        '    replicas: 2',
        '    env: { DATABASE_URL: "${deps.db.url}", ME: "${self.name}", SECRET: "${secret}", OUT: "${env.HOME}" }',
        'dependencies:',
        '  db: { upstream: db, listen: "+101" }',
        '  web: { upstream: web, listen: "+110" }',
      ].join('\n'),
    );
    const s = loadSystem(path, { basePort: 40_000 });
    assert.deepEqual(s.instances.map((i) => `${i.name}:${i.port}`), ['db:40001', 'web-1:40010', 'web-2:40011']);
    assert.deepEqual(s.proxies.map((p) => `${p.name}:${p.listen}→${p.upstream}`), ['db:40101→127.0.0.1:40001', 'web-1:40110→127.0.0.1:40010', 'web-2:40111→127.0.0.1:40011']);
    assert.deepEqual(s.groups.get('web'), ['web-1', 'web-2']);
    assert.match(problems(file('far.yaml', 'name: far\nbase_port: 60000\nservices:\n  a: { command: [x], port: "+9999" }\n')).join(''), /services\.a\.port: \+9999 from base_port 60000 is past port 65535/);
    const web2 = s.instances[2];
    const ctx = { stateDir: '/s', secret: 'k', mitigations: '', env: { HOME: '/root' } };
    assert.equal(expand(s, web2, '${deps.db.url} ${self.name} ${secret} ${env.HOME} --port=${self.port}', ctx), 'postgres://app@127.0.0.1:40101/shop web-2 k /root --port=40011');
  });

  it('faultline init writes a file the loader accepts, and refuses bad flags naming them', () => {
    const text = starterSystemFile({ name: 'shop', command: 'node server.mjs', port: 8080, deps: ['redis=127.0.0.1:6379', 'pricing=localhost:9000'] });
    const s = loadSystem(file('init.yaml', text));
    assert.deepEqual(s.proxies.map((p) => p.name), ['redis', 'pricing', 'shop']);
    assert.match(text, /REDIS_URL: \$\{deps\.redis\.address\}/);
    assert.throws(() => starterSystemFile({ name: 'Shop', command: '', port: 0, deps: ['x=10.0.0.1:1'] }), (err: Error) => /--name/.test(err.message) && /--port/.test(err.message) && /--command/.test(err.message) && /--dep/.test(err.message));
  });

  it('the JSON Schema for editors comes from the same definition', () => {
    const schema = systemJsonSchema() as { properties: Record<string, unknown>; required: string[] };
    assert.ok(['name', 'services', 'dependencies', 'entry', 'counters', 'integrity', 'mitigations'].every((k) => k in schema.properties));
    assert.ok(schema.required.includes('name') && schema.required.includes('services'));
  });

  it('the built-in lab loads through the same path', () => {
    const lab = loadSystem(new URL('../../lab/faultline.yaml', import.meta.url).pathname);
    assert.equal(lab.name, 'lab');
    assert.equal(lab.instances.length, 10);
  });
});

function errorOf(path: string): string {
  try {
    loadSystem(path);
    return '';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('run view: what an experiment needs of a system, from its file alone', () => {
  it('the shop example: entry through its proxy, integrity on the database itself, counters on a proxy', async () => {
    const { runView } = await import('./view.ts');
    const view = runView(loadSystem(new URL('../../examples/shop/faultline.yaml', import.meta.url).pathname));
    assert.equal(view.entryUrl, 'http://127.0.0.1:30080');
    assert.deepEqual(Object.keys(view.endpoints), ['get_product', 'create_order']);
    assert.deepEqual(view.integrity.map((c) => c.sql?.url), ['postgres://shop@127.0.0.1:29432/shop'], 'checks bypass the fault proxy');
    assert.deepEqual(view.counters, [{ name: 'pricing_calls', proxy: { name: 'pricing', measure: 'connections' } }]);
    assert.deepEqual(view.scrape, [], 'the shop exposes no metrics: users\' SLIs alone');
  });

  it('the lab: every replica behind the mitigations switch, metrics of every node service', async () => {
    const { runView } = await import('./view.ts');
    const view = runView(loadSystem(new URL('../../lab/faultline.yaml', import.meta.url).pathname, { basePort: 27_000 }));
    assert.equal(view.entryUrl, 'http://127.0.0.1:27080');
    assert.deepEqual(Object.keys(view.switches).sort(), ['api', 'orders-1', 'orders-2', 'worker', 'worker-2']);
    assert.equal(view.switches['orders-2'], 'http://127.0.0.1:27182/__lab/mitigations');
    assert.deepEqual(view.scrape.map((s) => s.service).sort(), ['api', 'orders-1', 'orders-2', 'payments', 'worker', 'worker-2']);
  });
});
