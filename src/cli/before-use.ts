/**
 * What a command's definition needs from a module too heavy for start-up (the fault registry, for `inject`'s
 * help): `beforeUse(command, load)` runs `load` before that command parses its arguments or prints its help,
 * and never for another command. main.ts calls `prepare` at both moments: commander's preSubcommand hook
 * (`faultline inject …`, `faultline inject --help`) and the `help` command (`faultline help inject`).
 *
 * @example beforeUse(cmd, async () => { cmd.registeredArguments[0].description = await describeTypes(); });
 */
import type { Command } from 'commander';

const LOADERS = new WeakMap<Command, () => Promise<void>>();

export function beforeUse(command: Command, load: () => Promise<void>): Command {
  LOADERS.set(command, load);
  return command;
}

export async function prepare(command: Command): Promise<void> {
  await LOADERS.get(command)?.();
}
