/** Issue 10 §2: the upstream OpenID Provider's configuration (configuration.ts) and its rules (options.ts). */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { loadConfiguration } from './configuration.ts';
import { resolveOptions, type AuthorizationServerOptions } from './options.ts';
import { systemClock } from './clock.ts';
import type { Storage } from './storage/storage.ts';

const UPSTREAM = {
  GATEHOUSE_UPSTREAM_ISSUER: 'https://id.example.com', GATEHOUSE_UPSTREAM_CLIENT_ID: 'gatehouse',
  GATEHOUSE_UPSTREAM_CLIENT_SECRET: 's3cret-value', GATEHOUSE_UPSTREAM_NAME: 'Example ID',
};

describe('upstream identity provider configuration (issue 10 §2)', () => {
  it('is null without GATEHOUSE_UPSTREAM_ISSUER, and reads the four variables with scope openid email profile by default', () => {
    assert.equal(loadConfiguration({}).upstreamIdentityProvider, null);
    assert.deepEqual(loadConfiguration(UPSTREAM).upstreamIdentityProvider, {
      issuer: 'https://id.example.com', clientId: 'gatehouse', clientSecret: 's3cret-value', name: 'Example ID',
      scope: 'openid email profile', localPasswords: true,
    });
    const custom = loadConfiguration({ ...UPSTREAM, GATEHOUSE_UPSTREAM_SCOPE: 'openid email', GATEHOUSE_LOCAL_PASSWORDS: 'off' }).upstreamIdentityProvider;
    assert.equal(custom?.scope, 'openid email');
    assert.equal(custom?.localPasswords, false);
  });

  it('names a missing variable, refuses GATEHOUSE_LOCAL_PASSWORDS other than on/off, and off without an upstream (no one could sign in)', () => {
    for (const name of ['GATEHOUSE_UPSTREAM_CLIENT_ID', 'GATEHOUSE_UPSTREAM_CLIENT_SECRET', 'GATEHOUSE_UPSTREAM_NAME'] as const) {
      assert.throws(() => loadConfiguration({ ...UPSTREAM, [name]: '' }), new RegExp(`${name} is required`));
    }
    assert.throws(() => loadConfiguration({ ...UPSTREAM, GATEHOUSE_LOCAL_PASSWORDS: 'no' }), /GATEHOUSE_LOCAL_PASSWORDS must be on or off/);
    assert.throws(() => loadConfiguration({ GATEHOUSE_LOCAL_PASSWORDS: 'off' }), /needs GATEHOUSE_UPSTREAM_ISSUER/);
  });

  it('refuses an http upstream issuer outside development (SPEC decision 17), a scope without openid, and an empty secret', () => {
    const base = (environment: AuthorizationServerOptions['environment'], upstream: Partial<NonNullable<AuthorizationServerOptions['upstreamIdentityProvider']>>) => ({
      issuer: environment === 'development' ? 'http://localhost:3000' : 'https://auth.example.com', environment, storage: {} as Storage,
      accessTokenAudience: 'https://api.example.com', tokenHmacKey: randomBytes(32),
      upstreamIdentityProvider: { issuer: 'https://id.example.com', clientId: 'gatehouse', clientSecret: 'x', name: 'Example ID', ...upstream },
    });
    assert.throws(() => resolveOptions(base('production', { issuer: 'http://id.example.com' }), systemClock), /must be https in production/);
    assert.throws(() => resolveOptions(base('staging', { issuer: 'http://id.example.com' }), systemClock), /must be https in staging/);
    assert.doesNotThrow(() => resolveOptions(base('development', { issuer: 'http://127.0.0.1:4000' }), systemClock));
    assert.throws(() => resolveOptions(base('production', { scope: 'email profile' }), systemClock), /scope must include openid/);
    assert.throws(() => resolveOptions(base('production', { clientSecret: '' }), systemClock), /clientSecret is required/);
    assert.equal(resolveOptions({ ...base('production', {}), upstreamIdentityProvider: undefined }, systemClock).upstreamIdentityProvider, null);
  });
});
