import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuthorizationServerError, ConnectionNotDeletedError, ConnectionNotStoredError, DpopProofRejectedError, LockLostError, TransportError } from '../errors.ts';
import { describeFailure } from './error-messages.ts';
import { DEFAULT_REDIRECT_URI, readProfiles, resolveSettings, storeDirectory, writeProfile, type Profile } from './settings.ts';

const base = { GATEHOUSE_CLIENT_ID: 'c0ffee00-0000-4000-8000-000000000000', GATEHOUSE_SCOPE: 'users:read' };

describe('gatehouse-connect settings: a token goes only to an API origin the user configured (issue 15 part 6)', () => {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-connect-settings-'));
  after(() => rmSync(directory, { recursive: true, force: true }));

  it('refuses an environment named like a property every object has (constructor, toString, __proto__)', () => {
    for (const name of ['constructor', 'toString', '__proto__']) {
      assert.throws(() => resolveSettings({ environment: name, issuer: 'https://auth.example' } as never, base, undefined), /--environment must be development, staging or production/);
    }
  });

  it('--issuer alone gives no API URL (not the development preset\'s http://localhost:3001)', () => {
    const settings = resolveSettings({ issuer: 'https://auth.partner-test.example' }, base, undefined);
    assert.equal(settings.environment, undefined);
    assert.equal(settings.apiUrl, undefined);
  });

  it('a profile saved by `login --issuer X` keeps giving no API URL on later commands without --issuer (the reported bug)', () => {
    const login = resolveSettings({ issuer: 'http://127.0.0.1:4000' }, base, undefined);
    writeProfile(directory, 'x', {
      environment: login.environment, issuer: login.issuer, clientId: login.clientId, clientType: login.clientType,
      redirectUri: login.redirectUri, scope: login.scope, apiUrl: login.apiUrl,
    });
    const profile: Profile | undefined = readProfiles(directory).x;
    const later = resolveSettings({}, {}, profile);
    assert.equal(later.issuer, 'http://127.0.0.1:4000');
    assert.equal(later.environment, undefined, 'not the development preset');
    assert.equal(later.apiUrl, undefined);
  });

  it('the development preset gives its API URL with its own issuer only; a configured API URL always wins', () => {
    assert.equal(resolveSettings({}, base, undefined).apiUrl, 'http://localhost:3001');
    assert.equal(resolveSettings({ environment: 'development' }, base, undefined).apiUrl, 'http://localhost:3001');
    assert.equal(resolveSettings({ environment: 'development', issuer: 'http://127.0.0.1:4000' }, base, undefined).apiUrl, undefined);
    assert.equal(resolveSettings({ issuer: 'http://127.0.0.1:4000', 'api-url': 'http://127.0.0.1:4001' }, base, undefined).apiUrl, 'http://127.0.0.1:4001');
    assert.equal(resolveSettings({ issuer: 'http://127.0.0.1:4000' }, { ...base, GATEHOUSE_API_URL: 'http://127.0.0.1:4002' }, undefined).apiUrl, 'http://127.0.0.1:4002');
  });

  it('an empty GATEHOUSE_CLIENT_ID, GATEHOUSE_SCOPE or GATEHOUSE_ENV counts as unset, as the other variables do: the profile\'s (or the default) applies', () => {
    const profile: Profile = {
      environment: 'development', issuer: 'http://localhost:3000', clientId: base.GATEHOUSE_CLIENT_ID, clientType: 'public',
      redirectUri: 'http://127.0.0.1:9000/cb', scope: 'users:read vendors:read', apiUrl: 'http://localhost:3001',
    };
    const empty = { GATEHOUSE_CLIENT_ID: '', GATEHOUSE_SCOPE: '', GATEHOUSE_ENV: '', GATEHOUSE_ISSUER: '' };
    const settings = resolveSettings({}, empty, profile);
    assert.equal(settings.clientId, profile.clientId);
    assert.equal(settings.scope, profile.scope);
    assert.equal(settings.environment, 'development');
    assert.equal(settings.issuer, 'http://localhost:3000');
    assert.equal(resolveSettings({}, { ...base, GATEHOUSE_ENV: '' }, undefined).environment, 'development', 'no profile: the default preset');
    assert.equal(storeDirectory({}, { GATEHOUSE_CONNECT_DIR: '', XDG_CONFIG_HOME: directory }), join(directory, 'gatehouse-connect'));
  });

  it('says whether the redirect URI is the default (login then reminds that it must be registered)', () => {
    const defaulted = resolveSettings({}, base, undefined);
    assert.equal(defaulted.redirectUri, DEFAULT_REDIRECT_URI);
    assert.equal(defaulted.redirectUriIsDefault, true);
    assert.equal(resolveSettings({ 'redirect-uri': 'http://127.0.0.1:9000/cb' }, base, undefined).redirectUriIsDefault, false);
  });

  it('blames the API, not the issuer, when the API cannot be reached', () => {
    const failure = describeFailure(new TransportError('GET http://127.0.0.1:4001/v1/users failed (ECONNREFUSED)', 'network'), {
      connection: 'default', issuer: 'http://127.0.0.1:4000', apiUrl: 'http://127.0.0.1:4001',
    });
    assert.match(failure.message, /^Cannot reach the API at http:\/\/127\.0\.0\.1:4001: .*--api-url/);
    assert.doesNotMatch(failure.message, /--issuer/);
    const issuerDown = describeFailure(new TransportError('token endpoint request failed (ECONNREFUSED)', 'network'), {
      connection: 'default', issuer: 'http://127.0.0.1:4000', apiUrl: 'http://127.0.0.1:4001',
    });
    assert.match(issuerDown.message, /^Cannot reach http:\/\/127\.0\.0\.1:4000/);
  });

  it('a refresh lock lost twice is said plainly (another gatehouse-connect took it over), with what to do, not as an unexpected error', () => {
    const failure = describeFailure(new LockLostError('the refresh lock "http://localhost:3000/|c0ffee00|default" was lost: the lock file is no longer ours; no refresh request was sent'), {
      connection: 'default', issuer: 'http://localhost:3000',
    });
    assert.equal(failure.exitCode, 1);
    assert.doesNotMatch(failure.message, /Unexpected error/);
    assert.match(failure.message, /^The refresh lock of "default" was lost .*no refresh request was sent.*Try again/);
  });

  it('an API that refuses the DPoP proof of a refreshed token (DpopProofRejectedError) is blamed on the API\'s configuration, not "Unexpected error" nor a login', () => {
    const failure = describeFailure(new DpopProofRejectedError('default', true, 401, 'invalid_dpop_proof', 'The DPoP proof is invalid: htu does not match'), {
      connection: 'default', issuer: 'http://localhost:3000', apiUrl: 'http://localhost:3001',
    });
    assert.equal(failure.exitCode, 1);
    assert.doesNotMatch(failure.message, /Unexpected error|gatehouse-connect login/);
    assert.match(failure.message, /^The API at http:\/\/localhost:3001 refused the DPoP proof of "default" even after a refresh \(401 invalid_dpop_proof: The DPoP proof is invalid: htu does not match\)\. .*public origin/);
  });

  it('a login whose connection could not be saved, and a revoke whose connection could not be deleted, say what happened at the server and what to run, not "Unexpected error"', () => {
    const context = { connection: 'default', issuer: 'https://auth.example.com', apiUrl: undefined };
    const storeDown = new Error('database is locked');
    const revoked = describeFailure(new ConnectionNotStoredError('default', true, storeDown), context);
    assert.match(revoked.message, /^Connection "default" could not be saved \(database is locked\), so nothing was connected; the authorization just granted was revoked at https:\/\/auth\.example\.com\. Run: gatehouse-connect login --connection default$/);
    const notRevoked = describeFailure(new ConnectionNotStoredError('default', false, storeDown), context);
    assert.match(notRevoked.message, /could not be revoked: https:\/\/auth\.example\.com may still list the client as connected; disconnect it there/);
    const notDeleted = describeFailure(new ConnectionNotDeletedError('default', storeDown), context);
    assert.match(notDeleted.message, /^The grant of "default" is revoked at https:\/\/auth\.example\.com, but the connection could not be deleted here \(database is locked\)\. Run again: gatehouse-connect revoke --connection default$/);
    for (const failure of [revoked, notRevoked, notDeleted]) {
      assert.equal(failure.exitCode, 1);
      assert.doesNotMatch(failure.message, /Unexpected error/);
    }
  });

  it('says a suspended or deleted client is the platform\'s to change, not a credentials problem; other invalid_client answers point at the credentials', () => {
    const context = { connection: 'default', issuer: 'https://auth.example.com', apiUrl: undefined };
    const suspended = describeFailure(new AuthorizationServerError('token', 'invalid_client', 'client is suspended', 401), context);
    assert.match(suspended.message, /^The client is suspended at https:\/\/auth\.example\.com \(invalid_client: client is suspended\): its credentials are right/);
    assert.doesNotMatch(suspended.message, /Check GATEHOUSE_CLIENT_ID/);
    assert.match(describeFailure(new AuthorizationServerError('revocation', 'invalid_client', 'client is deleted', 401), context).message, /^The client is deleted/);
    assert.match(describeFailure(new AuthorizationServerError('token', 'invalid_client', 'client authentication failed', 401), context).message, /Check GATEHOUSE_CLIENT_ID and GATEHOUSE_CLIENT_SECRET/);
  });
});
