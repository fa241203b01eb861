import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveEndpoints } from './environments.ts';
import { ConfigurationError } from './errors.ts';

const localRedirect = 'http://localhost:8080/callback';

describe('environment presets (SPEC §2) and transport rules (seeds: HTTPS, http only for localhost)', () => {
  it('development supplies the local issuer and API, and allows loopback http', () => {
    const resolved = resolveEndpoints({ environment: 'development', redirectUri: localRedirect });
    assert.equal(resolved.issuer.href, 'http://localhost:3000/');
    assert.equal(resolved.apiUrl?.href, 'http://localhost:3001/');
    assert.equal(resolved.allowLoopbackHttp, true);
  });

  it('development supplies its API URL only with its own issuer: another issuer gets no default API (issue 15: tokens only to a configured origin)', () => {
    assert.equal(resolveEndpoints({ environment: 'development', issuer: 'http://localhost:3000', redirectUri: localRedirect }).apiUrl?.href, 'http://localhost:3001/');
    assert.equal(resolveEndpoints({ environment: 'development', issuer: 'http://127.0.0.1:4000', redirectUri: localRedirect }).apiUrl, undefined);
    assert.equal(resolveEndpoints({ environment: 'development', issuer: 'http://127.0.0.1:4000', apiUrl: 'http://127.0.0.1:4001', redirectUri: localRedirect }).apiUrl?.href, 'http://127.0.0.1:4001/');
  });

  it('staging and production have no built-in issuer and require https', () => {
    assert.throws(() => resolveEndpoints({ environment: 'staging', redirectUri: localRedirect }), /no issuer/);
    // Names every object has (`in` found them on Object.prototype, and a preset-less environment was accepted).
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.throws(() => resolveEndpoints({ environment: name as never, issuer: 'https://auth.example', redirectUri: localRedirect }), /environment must be development, staging or production/);
    }
    assert.throws(() => resolveEndpoints({ environment: 'staging', issuer: 'http://localhost:3000', redirectUri: localRedirect }), /https in staging/);
    const staging = resolveEndpoints({ environment: 'staging', issuer: 'https://auth.staging.example', apiUrl: 'https://api.staging.example', redirectUri: localRedirect });
    assert.equal(staging.allowLoopbackHttp, false, 'allowInsecureRequests stays off for https issuers');
    assert.throws(() => resolveEndpoints({ environment: 'staging', issuer: 'https://auth.staging.example', apiUrl: 'http://localhost:3001', redirectUri: localRedirect }), /apiUrl/);
  });

  it('production refuses http redirect URIs, even on localhost (seeds: "Must use HTTPS in production")', () => {
    assert.throws(() => resolveEndpoints({ environment: 'production', issuer: 'https://auth.example', redirectUri: localRedirect }), /https in production/);
    assert.doesNotThrow(() => resolveEndpoints({ environment: 'production', issuer: 'https://auth.example', redirectUri: 'https://app.example/callback' }));
  });

  it('refuses plain http to anything but a loopback host, whatever the environment', () => {
    assert.throws(() => resolveEndpoints({ issuer: 'http://auth.example', redirectUri: localRedirect }), ConfigurationError);
    assert.throws(() => resolveEndpoints({ issuer: 'https://auth.example', redirectUri: 'http://app.example/callback' }), ConfigurationError);
    assert.throws(() => resolveEndpoints({ issuer: 'https://auth.example', redirectUri: 'https://app.example/callback#fragment' }), /fragment/);
    assert.throws(() => resolveEndpoints({ issuer: 'https://auth.example?x=1', redirectUri: 'https://app.example/callback' }), /query/);
    assert.equal(resolveEndpoints({ issuer: 'http://127.0.0.1:3000', redirectUri: localRedirect }).allowLoopbackHttp, true);
  });
});
