/** Reading the lab's settings from its environment (the supervisor sets them): one helper per type. */

export function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback;
  if (value === undefined || value === '') throw new Error(`missing environment variable ${name}`);
  return value;
}

export function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number (got "${raw}")`);
  return n;
}

/** This process's service name and listen address. */
export function serviceAddress(): { name: string; host: string; port: number } {
  return { name: env('LAB_SERVICE'), host: env('LAB_HOST', '127.0.0.1'), port: envNumber('LAB_PORT', 0) };
}
