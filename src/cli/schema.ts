/** `faultline schema`: prints the JSON Schema of the system file (faultline.yaml) for editors. */
import type { Command } from 'commander';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('Print the JSON Schema of the system file (faultline.yaml), for editors and CI linters.')
    .addHelpText('after', '\nExample: faultline schema > faultline.schema.json  (then "# yaml-language-server: $schema=./faultline.schema.json")')
    .action(async () => {
      const { systemJsonSchema } = await import('../system/schema.ts');
      process.stdout.write(`${JSON.stringify(systemJsonSchema(), null, 2)}\n`);
    });
}
