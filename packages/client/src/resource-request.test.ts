import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigurationError } from './errors.ts';
import { resolveApiUrl } from './resource-request.ts';

const transport = { allowLoopbackHttp: false, timeoutMilliseconds: 1000, fetch: undefined };
const settings = { apiUrl: new URL('https://api.example/platform'), transport };

describe('where fetch may send a token (RFC 6750 §2.1 header only, to the API origin only)', () => {
  it('resolves relative paths against the API base, keeping its path', () => {
    assert.equal(resolveApiUrl(settings, '/v1/users?limit=2').href, 'https://api.example/platform/v1/users?limit=2');
    assert.equal(resolveApiUrl(settings, 'v1/users').href, 'https://api.example/platform/v1/users');
    assert.equal(resolveApiUrl(settings, 'https://api.example/v1/companies').href, 'https://api.example/v1/companies');
  });

  it('refuses other origins, plain http, credentials in the URL, and relative paths without an API base', () => {
    assert.throws(() => resolveApiUrl(settings, 'https://attacker.example/v1/users'), ConfigurationError);
    assert.throws(() => resolveApiUrl(settings, 'https://api.example:8443/v1/users'), ConfigurationError);
    assert.throws(() => resolveApiUrl({ apiUrl: new URL('http://api.example'), transport }, '/v1/users'), /refusing to send a token over http/);
    assert.throws(() => resolveApiUrl(settings, 'https://user:pass@api.example/v1/users'), /credentials/);
    assert.throws(() => resolveApiUrl({ apiUrl: undefined, transport }, '/v1/users'), /no apiUrl/);
    assert.doesNotThrow(() => resolveApiUrl({ apiUrl: new URL('http://localhost:3001'), transport: { ...transport, allowLoopbackHttp: true } }, '/v1/users'));
  });
});
