/** Every CLI command, one file each; adding a command = one file + one line here. */
import type { Command } from 'commander';
import { registerDemo } from './demo.ts';
import { registerProxy } from './proxy.ts';
import { registerToxics } from './toxics.ts';

export const COMMANDS: ReadonlyArray<(program: Command) => void> = [
  registerDemo,
  registerProxy,
  registerToxics,
];
