/** Option parsers shared by commands: each rejects bad input with INVALID_INPUT naming the flag. */
import { InvalidArgumentError } from 'commander';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError(`must be an integer in [0, 65535] (got "${value}")`);
  }
  return port;
}
