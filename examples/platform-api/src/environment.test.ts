import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultPublicOrigin, platformApiOptionsFromEnvironment } from './environment.ts';
import { PLATFORM_API_DEVELOPMENT_DEFAULTS } from './platform-api.ts';

/** What `npm start` passes: the authorization server's configuration. */
const DEPLOYMENT = { issuer: 'http://localhost:4000', urnNamespace: 'acme', apiAudience: 'http://localhost:3001' };

describe('platformApiOptionsFromEnvironment (main.ts and npm start read the same variables)', () => {
  test('with nothing set: the development defaults (main.ts), or the authorization server\'s settings (npm start)', () => {
    assert.deepEqual(platformApiOptionsFromEnvironment({}), {
      port: 3001, host: 'localhost', issuer: 'http://localhost:3000', audience: 'http://localhost:3001',
      introspectionClientId: PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientId,
      introspectionClientSecret: PLATFORM_API_DEVELOPMENT_DEFAULTS.introspectionClientSecret,
      validationMode: 'introspection', introspectionCacheTtlSeconds: 5, publicOrigin: 'http://localhost:3001',
    });
    const underNpmStart = platformApiOptionsFromEnvironment({ GATEHOUSE_ISSUER: '' }, DEPLOYMENT);
    assert.equal(underNpmStart.issuer, 'http://localhost:4000');
    assert.equal(underNpmStart.urnNamespace, 'acme');
    assert.equal(underNpmStart.audience, 'http://localhost:3001', "the audience defaults to the authorization server's API audience");
  });

  test('reads PLATFORM_API_AUDIENCE, PLATFORM_API_INTROSPECTION_CACHE_TTL_SECONDS and PLATFORM_API_PUBLIC_ORIGIN under npm start too (the reported drift)', () => {
    const env = {
      PLATFORM_API_PORT: '3132', PLATFORM_API_HOST: '127.0.0.1', PLATFORM_API_AUDIENCE: 'https://api.example.com',
      PLATFORM_API_INTROSPECTION_CACHE_TTL_SECONDS: '0', PLATFORM_API_PUBLIC_ORIGIN: 'https://public.example.com',
      PLATFORM_API_INTROSPECTION_CLIENT_ID: 'rs-id', PLATFORM_API_INTROSPECTION_CLIENT_SECRET: 'rs-secret', PLATFORM_API_VALIDATION_MODE: 'local',
    };
    for (const options of [platformApiOptionsFromEnvironment(env), platformApiOptionsFromEnvironment(env, DEPLOYMENT)]) {
      assert.equal(options.port, 3132);
      assert.equal(options.host, '127.0.0.1');
      assert.equal(options.audience, 'https://api.example.com');
      assert.equal(options.introspectionCacheTtlSeconds, 0);
      assert.equal(options.publicOrigin, 'https://public.example.com');
      assert.equal(options.introspectionClientId, 'rs-id');
      assert.equal(options.introspectionClientSecret, 'rs-secret');
      assert.equal(options.validationMode, 'local');
    }
  });

  test('the DPoP public origin follows PLATFORM_API_PORT when the audience is a loopback URL (only PLATFORM_API_PORT=3132 set: htu http://localhost:3132)', () => {
    assert.equal(platformApiOptionsFromEnvironment({ PLATFORM_API_PORT: '3132' }, DEPLOYMENT).publicOrigin, 'http://localhost:3132');
    assert.equal(platformApiOptionsFromEnvironment({ PLATFORM_API_PORT: '3132' }).publicOrigin, 'http://localhost:3132');
    // A real audience names where clients call (a proxy may listen there): its origin, whatever the port.
    assert.equal(defaultPublicOrigin('https://api.example.com', 3132), undefined);
    assert.equal(platformApiOptionsFromEnvironment({ PLATFORM_API_PORT: '3132', PLATFORM_API_AUDIENCE: 'https://api.example.com' }).publicOrigin, undefined);
    assert.equal(defaultPublicOrigin('http://127.0.0.1:3001/v1', 4000), 'http://127.0.0.1:4000');
    assert.equal(defaultPublicOrigin('http://[::1]:3001', 4000), 'http://[::1]:4000');
    assert.equal(defaultPublicOrigin('http://localhost:3001', 0), undefined, 'port 0 is not known until listening');
    assert.equal(defaultPublicOrigin('urn:example:api', 4000), undefined);
  });

  test('refuses unusable values, naming the variable', () => {
    assert.throws(() => platformApiOptionsFromEnvironment({ PLATFORM_API_PORT: 'http' }), /PLATFORM_API_PORT must be/);
    assert.throws(() => platformApiOptionsFromEnvironment({ PLATFORM_API_PORT: '70000' }), /PLATFORM_API_PORT must be an integer from 0 to 65535/);
    assert.throws(() => platformApiOptionsFromEnvironment({ PLATFORM_API_PORT: '3001.5' }), /PLATFORM_API_PORT must be an integer/);
    assert.throws(() => platformApiOptionsFromEnvironment({ PLATFORM_API_INTROSPECTION_CACHE_TTL_SECONDS: '-1' }), /PLATFORM_API_INTROSPECTION_CACHE_TTL_SECONDS must be a non-negative number/);
    assert.throws(() => platformApiOptionsFromEnvironment({ PLATFORM_API_VALIDATION_MODE: 'jwt' }), /PLATFORM_API_VALIDATION_MODE must be "introspection" or "local"/);
  });
});
