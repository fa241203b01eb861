/**
 * Test support: the real `gatehouse` command in a child process, with the caller's own Gatehouse settings
 * (`GATEHOUSE_*`, `DATABASE_URL`, `PORT`, `HOST`) and the test runner's variables removed, so a test sees
 * only the settings it gives.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../cli/gatehouse.ts', import.meta.url));

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `gatehouse ARGS` with exactly `settings` as its Gatehouse environment. */
export function gatehouseWith(args: string[], settings: Record<string, string>, timeoutMs = 20_000): CommandResult {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('GATEHOUSE_') && !name.startsWith('NODE_TEST') && !['DATABASE_URL', 'PORT', 'HOST'].includes(name)) env[name] = value;
  }
  const result = spawnSync(process.execPath, ['--no-warnings', CLI, ...args], { env: { ...env, ...settings }, encoding: 'utf8', timeout: timeoutMs });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `gatehouse ARGS` in development on the SQLite file `database`, plus `extraEnv`. */
export function gatehouse(database: string, args: string[], extraEnv: Record<string, string> = {}, timeoutMs = 20_000): CommandResult {
  return gatehouseWith(args, { GATEHOUSE_DATABASE: database, GATEHOUSE_ENV: 'development', ...extraEnv }, timeoutMs);
}
