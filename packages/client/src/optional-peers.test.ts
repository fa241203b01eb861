/**
 * `pg` and `redis` are optional peer dependencies of `@gatehouse/client` (issue 15 part 6: 15 MB every
 * partner paid for two backends most never use), as `fastify` is of `@gatehouse/resource-server`:
 * nothing imports them at run time (the caller passes its own pool, client or Fastify instance), so the
 * packages load without them, and a store or lock given no such object says what to install.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigurationError } from './errors.ts';
import { createPostgresLock } from './locks/postgres.ts';
import { createRedisLock, type RedisLockClient } from './locks/redis.ts';
import { createPostgresTokenStore } from './stores/postgres.ts';

const packageJson = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'));

describe('optional peer dependencies: pg and redis (@gatehouse/client), fastify (@gatehouse/resource-server)', () => {
  it('lists pg and redis as optional peers, not dependencies; fastify likewise for the resource server', () => {
    const client = packageJson('../package.json');
    for (const name of ['pg', 'redis']) {
      assert.equal(client.dependencies[name], undefined, name);
      assert.ok(client.peerDependencies[name], name);
      assert.equal(client.peerDependenciesMeta[name].optional, true, name);
    }
    const resourceServer = packageJson('../../resource-server/package.json');
    assert.equal(resourceServer.dependencies.fastify, undefined);
    assert.equal(resourceServer.peerDependenciesMeta.fastify.optional, true);
    const root = packageJson('../../../package.json');
    for (const name of ['pg', 'redis', 'fastify']) assert.ok(root.devDependencies[name], `the repository still installs ${name} for its tests`);
  });

  it('loads both packages with pg, redis and fastify missing', () => {
    const entries = [new URL('./index.ts', import.meta.url).href, new URL('../../resource-server/src/index.ts', import.meta.url).href];
    const script = `
      import { registerHooks } from 'node:module';
      const missing = new Set(['pg', 'redis', 'fastify']);
      registerHooks({
        resolve(specifier, context, next) {
          if (missing.has(specifier) || specifier.startsWith('@redis/')) {
            throw Object.assign(new Error("Cannot find package '" + specifier + "'"), { code: 'ERR_MODULE_NOT_FOUND' });
          }
          return next(specifier, context);
        },
      });
      for (const entry of ${JSON.stringify(entries)}) await import(entry);
      console.log('loaded');`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /loaded/);
  });

  it('a PostgreSQL store or lock, or a Redis lock, given no client of that package says which package to install', async () => {
    await assert.rejects(createPostgresTokenStore({ pool: undefined as never }), (error: Error) => error instanceof ConfigurationError && /npm install pg/.test(error.message));
    assert.throws(() => createPostgresLock({ pool: {} as never }), (error: Error) => error instanceof ConfigurationError && /npm install pg/.test(error.message));
    assert.throws(() => createRedisLock({ client: {} as RedisLockClient }), (error: Error) => error instanceof ConfigurationError && /npm install redis/.test(error.message));
  });
});
