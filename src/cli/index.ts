/**
 * Every CLI command, one file each; adding a command = one file + one line here.
 *
 * Start-up loads every file listed here, so a command's file only *defines* it (options, help) with
 * commander, constants and types; its action `await import()`s what does the work. `faultline --version` then
 * loads no fault kind, no load engine, no lab. (run.ts, load.ts and report.ts still import their work up front.)
 * `buildProgram` is the whole tree as main.ts runs it (and as conventions.test.ts walks it): every command, the
 * `help` command, --quiet on each (options.ts), and the hooks that prepare a command before use.
 */
import { Command } from 'commander';
import { VERSION } from '../core/version.ts';
import { prepare } from './before-use.ts';
import { registerCompletion } from './completion.ts';
import { addQuiet, applyQuiet } from './options.ts';
import { registerDown } from './down.ts';
import { registerDoctor } from './doctor.ts';
import { registerFaults } from './faults.ts';
import { registerInject } from './inject.ts';
import { registerRevert } from './revert.ts';
import { registerStatus } from './status.ts';
import { registerToken } from './token.ts';
import { registerUp } from './up.ts';
import { registerDemo } from './demo.ts';
import { registerProxy } from './proxy.ts';
import { registerLoad } from './load.ts';
import { registerBreakpoint } from './breakpoint.ts';
import { registerToxics } from './toxics.ts';
import { registerRun } from './run.ts';
import { registerReport } from './report.ts';
import { registerDashboard } from './dashboard.ts';
import { registerInit } from './init.ts';
import { registerSchema } from './schema.ts';
import { registerSuite } from './suite.ts';
import { registerExport } from './export.ts';

export const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerDemo,
  registerProxy,
  registerToxics,
  registerUp,
  registerDown,
  registerStatus,
  registerToken,
  registerInject,
  registerRevert,
  registerFaults,
  registerDoctor,
  registerLoad,
  registerBreakpoint,
  registerRun,
  registerReport,
  registerDashboard,
  registerInit,
  registerSchema,
  registerSuite,
  registerExport,
  registerCompletion,
];

/** The commander program with every command registered (what `faultline` runs). */
export function buildProgram(): Command {
  const program = new Command('faultline')
    .description('Chaos-engineering workbench: inject faults, drive load, get a verdict with numbers.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  for (const register of COMMANDS) register(program);
  program.hook('preSubcommand', (_program, command) => prepare(command));
  // commander's own `help X` prints X's help without its hooks; this one is the same command, prepared first.
  program
    .command('help')
    .argument('[command]')
    .description('display help for command')
    .helpOption(false)
    .action(async (name?: string) => {
      const command = name === undefined ? undefined : program.commands.find((c) => c.name() === name || c.aliases().includes(name));
      if (command === undefined) return program.help({ error: name !== undefined });
      await prepare(command);
      command.help();
    });
  addQuiet(program);
  program.hook('preAction', (_program, action) => applyQuiet(action));
  return program;
}
