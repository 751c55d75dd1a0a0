/**
 * `faultline toxics`: the catalog of toxics the proxy knows, with each attribute's unit, range and the default a
 * request that leaves it out really gets ("required" where none applies, as for slicer's average_size).
 */
import type { Command } from 'commander';

export function registerToxics(program: Command): void {
  program
    .command('toxics')
    .description('List the toxics the proxy supports and their attributes.')
    .option('--json', 'print the catalog as JSON (default: null and required: true where a request must give it)')
    .action(async (opts: { json?: boolean }) => {
      const [{ describeRange, isRequired }, { TOXICS }] = await Promise.all([import('../proxy/toxic.ts'), import('../proxy/toxics/index.ts')]);
      const catalog = [...TOXICS.values()].map((def) => ({
        type: def.type,
        summary: def.summary,
        attributes: Object.entries(def.attributes).map(([name, spec]) => {
          const required = isRequired(spec);
          return { name, ...spec, default: required ? null : spec.default, required, range: describeRange(spec) };
        }),
      }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(catalog, null, 2)}\n`);
        return;
      }
      for (const toxic of catalog) {
        process.stdout.write(`${toxic.type} — ${toxic.summary}\n`);
        for (const a of toxic.attributes) {
          const dflt = a.required ? 'required ' : `default ${a.default}`;
          process.stdout.write(`    ${a.name.padEnd(15)} ${a.range.padEnd(24)} ${dflt}  ${a.doc}\n`);
        }
      }
      process.stdout.write('\nEvery toxic also takes stream (upstream|downstream), toxicity [0, 1] and optional ttl_s.\n');
    });
}
