/** Every CLI command, one file each; adding a command = one file + one line here. */
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
];
