/**
 * Test support: the PostgreSQL and Redis the tests use, and whether they are reachable. Tests that need
 * one skip with the returned reason when it is not — except in CI (`CI=true`), where they must run,
 * so an unreachable service fails the run instead of silently skipping.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { createClient } from 'redis';

export const POSTGRES_URL = process.env.GATEHOUSE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.GATEHOUSE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

const inCi = process.env.CI === 'true';

/** undefined when PostgreSQL answers; else the skip reason. @throws in CI when it does not answer. */
export async function postgresSkipReason(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return unavailable(`PostgreSQL at ${POSTGRES_URL} is unreachable (${(error as Error).message})`);
  } finally {
    await client.end().catch(() => {});
  }
}

/** undefined when Redis answers; else the skip reason. @throws in CI when it does not answer. */
export async function redisSkipReason(): Promise<string | undefined> {
  const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return unavailable(`Redis at ${REDIS_URL} is unreachable (${(error as Error).message})`);
  } finally {
    if (client.isOpen) await client.close().catch(() => {});
  }
}

/** undefined when Chromium is installed; else the skip reason. @throws in CI when it is not. */
export function chromiumSkipReason(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : unavailable(`no ${CHROMIUM} (apt-get install chromium)`);
}

function unavailable(reason: string): string {
  if (inCi) throw new Error(`${reason}; CI=true requires it`);
  return reason;
}

/** A schema name no concurrent test uses: `client_test_<random>`. */
export function uniqueSchemaName(): string {
  return `client_test_${randomBytes(6).toString('hex')}`;
}
