/** Every CLI command, one file each; adding a command = one file + one line here. */
import type { Command } from 'commander';
import { registerProxy } from './proxy.ts';

export const COMMANDS: ReadonlyArray<(program: Command) => void> = [registerProxy];
