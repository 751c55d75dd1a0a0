/**
 * Every CLI command, one file each; adding a command = one file + one line here.
 *
 * Start-up loads every file listed here, so a command's file only *defines* it (options, help) with
 * commander, constants and types; its action `await import()`s what does the work. `faultline --version` then
 * loads no fault kind, no load engine, no lab. (run.ts, load.ts and report.ts still import their work up front.)
 */
import type { Command } from 'commander';
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
];
