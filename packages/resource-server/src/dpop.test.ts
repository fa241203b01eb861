/**
 * DPoP-bound access tokens at the resource server (RFC 9449 §7), in both validation modes, against the
 * stub authorization server on a manual clock: each refusal checks the status, the error code and the
 * `WWW-Authenticate: DPoP` challenge.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDpopTestKey, createDpopTestProof, type DpopTestKey, type DpopTestProofOptions } from '@gatehouse/protocol/testing/dpop';
import { ApiKeyError, createCredentialVerifier, type ApiKeyVerifier } from './api-key.ts';
import { BearerTokenError } from './bearer-token-error.ts';
import { ResourceServerError } from './resource-server-error.ts';
import { createDpopReplayCache, DpopTokenError, formatDpopChallenge } from './dpop.ts';
import { AUDIENCE, createVerifierFixture, rejection, VALIDATION_MODES, type VerifierFixture } from './verifier-fixture.ts';
import * as toolkit from '@gatehouse/resource-server';

const URL_PATH = '/v1/users?page=2';
const HTU = `${AUDIENCE}/v1/users`;

for (const mode of VALIDATION_MODES) {
  describe(`Authorization: DPoP (RFC 9449 §7), ${mode} mode`, () => {
    let fixture: VerifierFixture;
    let key: DpopTestKey;
    let otherKey: DpopTestKey;
    before(async () => {
      fixture = await createVerifierFixture(mode);
      [key, otherKey] = await Promise.all([createDpopTestKey(), createDpopTestKey('EdDSA')]);
    });
    after(() => fixture.verifier.close());

    const nowSeconds = () => Math.floor(fixture.clock.now() / 1000);
    const boundToken = (jkt = key.jkt) => fixture.issue({ claims: { cnf: { jkt } } });
    const proof = (token: string, options: Partial<DpopTestProofOptions> = {}, signer = key) =>
      createDpopTestProof(signer, { htm: 'GET', htu: HTU, iat: nowSeconds(), accessToken: token, ...options });
    const send = (token: string, dpop: string | undefined, overrides: { scheme?: string; method?: string; url?: string } = {}, scopes: string[] = ['users:read']) =>
      fixture.verifier.verifyProtectedResourceRequest({
        authorization: `${overrides.scheme ?? 'DPoP'} ${token}`, dpop, method: overrides.method ?? 'GET', url: overrides.url ?? URL_PATH,
      }, scopes);

    test('accepts a bound token with a proof for this request made with its key; the token names its key', async () => {
      const token = await boundToken();
      const verified = await send(token, await proof(token));
      assert.equal(verified.dpopJkt, key.jkt);
      // An absolute URL is accepted as well (its query is ignored, §4.3 item 9).
      await send(token, await proof(token), { url: `${AUDIENCE}${URL_PATH}` });
    });

    test('refuses a bound token sent as Bearer with 401 invalid_token and a DPoP challenge (§7.1)', async () => {
      const token = await boundToken();
      // One attempt at a time: both started at once, the second's rejection would go unhandled while the first is awaited.
      for (const attempt of [() => fixture.verify(token, ['users:read']), () => send(token, undefined, { scheme: 'Bearer' })]) {
        const error = await rejection(attempt(), DpopTokenError);
        assert.equal(error.status, 401);
        assert.equal(error.error, 'invalid_token');
        assert.match(error.headers['www-authenticate']!, /^DPoP algs="ES256 EdDSA RS256 PS256", error="invalid_token"/);
      }
    });

    test('a middleware of another framework (README: Express) reads both headers from rawHeaders with the package\'s own exports, so a DPoP-bound token is accepted there too', async () => {
      const token = await boundToken();
      // Node's rawHeaders, as Express hands them over (req.rawHeaders).
      const rawHeaders = ['Host', 'api.example', 'Authorization', `DPoP ${token}`, 'DPoP', await proof(token)];
      const verified = await fixture.verifier.verifyProtectedResourceRequest({
        authorization: toolkit.authorizationHeaderValues(rawHeaders), dpop: toolkit.dpopHeaderValues(rawHeaders), method: 'GET', url: URL_PATH,
      }, ['users:read']);
      assert.equal(verified.dpopJkt, key.jkt);
    });

    test('refuses an unbound token sent with the DPoP scheme with invalid_token', async () => {
      const token = await fixture.issue();
      const error = await rejection(send(token, await proof(token)), DpopTokenError);
      assert.equal(error.error, 'invalid_token');
      assert.equal(error.status, 401);
    });

    const refusals: Array<[string, RegExp, (token: string) => Promise<string | undefined>]> = [
      ['no proof', /required/, async () => undefined],
      ['htm of another method (§4.3 item 8)', /htm/, (token) => proof(token, { htm: 'POST' })],
      ['htu of another resource (§4.3 item 9)', /htu/, (token) => proof(token, { htu: `${AUDIENCE}/v1/vendors` })],
      ['iat older than the window (§4.3 item 11)', /iat/, (token) => proof(token, { iat: nowSeconds() - 61 })],
      ['no ath (§4.3 item 12)', /ath is missing/, (token) => proof(token, { accessToken: undefined })],
      ['ath of another token (§4.3 item 12)', /ath does not match/, (token) => proof(token, { accessToken: `${token}x` })],
      ['another key than the token is bound to (§7.1)', /another key/, (token) => proof(token, {}, otherKey)],
      ['typ JWT (§4.3 item 4)', /typ/, (token) => proof(token, { typ: 'JWT' })],
      ['a private key in the jwk header (§4.3 item 7)', /private key/, (token) => proof(token, { embedPrivateKey: true })],
    ];
    for (const [name, description, makeProof] of refusals) {
      test(`refuses a proof with ${name}: 401 invalid_dpop_proof`, async () => {
        const token = await boundToken();
        const error = await rejection(send(token, await makeProof(token)), DpopTokenError);
        assert.equal(error.status, 401);
        assert.equal(error.error, 'invalid_dpop_proof');
        assert.match(error.errorDescription, description);
        assert.match(error.headers['www-authenticate']!, /^DPoP algs="[^"]+", error="invalid_dpop_proof", error_description="/);
      });
    }

    test('refuses a replayed proof (same jti) with invalid_dpop_proof (§11.1)', async () => {
      const token = await boundToken();
      const once = await proof(token);
      await send(token, once);
      const error = await rejection(send(token, once), DpopTokenError);
      assert.equal(error.error, 'invalid_dpop_proof');
      assert.match(error.errorDescription, /already used/);
    });

    test('refuses two DPoP headers with invalid_dpop_proof (§4.3 item 1)', async () => {
      const token = await boundToken();
      const error = await rejection(fixture.verifier.verifyProtectedResourceRequest({
        authorization: `DPoP ${token}`, dpop: [await proof(token), await proof(token)], method: 'GET', url: URL_PATH,
      }, []), DpopTokenError);
      assert.equal(error.error, 'invalid_dpop_proof');
    });

    test('answers a missing scope with 403 insufficient_scope in a DPoP challenge', async () => {
      const token = await boundToken();
      const error = await rejection(send(token, await proof(token), {}, ['users:write']), DpopTokenError);
      assert.equal(error.status, 403);
      assert.equal(error.error, 'insufficient_scope');
      assert.match(error.headers['www-authenticate']!, /scope="users:write"/);
      assert.equal(error.body.scope, 'users:write');
    });

    test('a route that also accepts API keys verifies Authorization: DPoP with its proof as well (issue 15 §3 with issue 16)', async () => {
      const apiKeys: ApiKeyVerifier = { realm: AUDIENCE, verifyApiKey: () => Promise.reject(new Error('not an API key')), clearCache: () => {} };
      const credentials = createCredentialVerifier({ tokenVerifier: fixture.verifier, apiKeyVerifier: apiKeys });
      const token = await boundToken();
      const request = async (dpop: string | undefined) => credentials.verifyCredential(`DPoP ${token}`, ['users:read'], ['bearer', 'api_key'], '127.0.0.1', {
        dpop, method: 'GET', url: URL_PATH,
      });
      const verified = await request(await proof(token));
      assert.equal(verified.kind, 'bearer');
      assert.equal(verified.kind === 'bearer' ? verified.accessToken.dpopJkt : undefined, key.jkt);
      const error = await rejection(request(undefined), DpopTokenError);
      assert.equal(error.status, 401);
      assert.equal(error.error, 'invalid_dpop_proof');
    });

    describe('verifyRequestCredential (what requireCredential calls per request; issue 12: cached Bearer tokens decided without a promise of their own)', () => {
      const apiKeys: ApiKeyVerifier = { realm: AUDIENCE, verifyApiKey: () => Promise.reject(new Error('not an API key')), clearCache: () => {} };
      const credentials = () => createCredentialVerifier({ tokenVerifier: fixture.verifier, apiKeyVerifier: apiKeys });
      const verifyRaw = (rawHeaders: string[], accepted: Array<'bearer' | 'api_key'> = ['bearer', 'api_key'], scopes = ['users:read'], verifier = credentials()) =>
        verifier.verifyRequestCredential({ rawHeaders, method: 'GET', url: URL_PATH }, scopes, accepted, '127.0.0.1');

      test('a Bearer token, cached or not, with the field name in any case and a DPoP header beside it: the same token object', async () => {
        const token = await fixture.issue();
        const verifier = credentials();
        const first = await verifyRaw(['Host', 'api', 'AUTHORIZATION', `Bearer ${token}`, 'DPoP', 'ignored for a Bearer token'], undefined, undefined, verifier);
        const second = await verifyRaw(['host', 'api', 'authorization', `Bearer ${token}`], undefined, undefined, verifier);
        assert.equal(first.kind, 'bearer');
        assert.equal(second.kind === 'bearer' ? second.accessToken : undefined, first.kind === 'bearer' ? first.accessToken : undefined);
      });

      test('a DPoP-bound token sent as Bearer is refused (§7.1) before and after the same token was accepted with its proof', async () => {
        const token = await boundToken();
        const before = await rejection(verifyRaw(['authorization', `Bearer ${token}`]), DpopTokenError);
        assert.equal(before.error, 'invalid_token');
        const accepted = await verifyRaw(['Authorization', `DPoP ${token}`, 'dpop', await proof(token)]);
        assert.equal(accepted.kind === 'bearer' ? accepted.accessToken.dpopJkt : undefined, key.jkt);
        const afterwards = await rejection(verifyRaw(['authorization', `Bearer ${token}`]), DpopTokenError);
        assert.equal(afterwards.status, 401);
        assert.equal(afterwards.error, 'invalid_token');
      });

      test('a cached token in two Authorization fields is 400 invalid_request (RFC 6750 §3.1); two DPoP fields are invalid_dpop_proof', async () => {
        const token = await fixture.issue();
        await verifyRaw(['authorization', `Bearer ${token}`]);
        const twice = await rejection(verifyRaw(['authorization', `Bearer ${token}`, 'Authorization', `Bearer ${token}`]), BearerTokenError);
        assert.equal(twice.status, 400);
        assert.equal(twice.error, 'invalid_request');
        const bound = await boundToken();
        const twoProofs = await rejection(verifyRaw(['authorization', `DPoP ${bound}`, 'DPoP', await proof(bound), 'dpop', await proof(bound)]), DpopTokenError);
        assert.equal(twoProofs.error, 'invalid_dpop_proof');
      });

      test('a cached token is still refused for a missing scope (403), on a route without Bearer (401), and malformed (400)', async () => {
        const token = await fixture.issue();
        await verifyRaw(['authorization', `Bearer ${token}`]);
        const scope = await rejection(verifyRaw(['authorization', `Bearer ${token}`], undefined, ['users:write']), BearerTokenError);
        assert.equal(scope.status, 403);
        assert.equal(scope.error, 'insufficient_scope');
        const apiKeyOnly = await rejection(verifyRaw(['authorization', `Bearer ${token}`], ['api_key']), ApiKeyError);
        assert.equal(apiKeyOnly.status, 401);
        const malformed = await rejection(verifyRaw(['authorization', `Bearer ${token}, Basic abc`]), BearerTokenError);
        assert.equal(malformed.status, 400);
        const none = await rejection(verifyRaw(['host', 'api']), ResourceServerError);
        assert.equal(none.status, 401);
        assert.match(none.headers['www-authenticate']!, /^Bearer .*, Basic /);
      });
    });
  });
}

test('the replay cache forgets a proof once its window ended and never holds more than its bound', () => {
  const cache = createDpopReplayCache(2);
  assert.equal(cache.recordOnce('a', 1_000, 0), true);
  assert.equal(cache.recordOnce('a', 1_000, 500), false);
  assert.equal(cache.recordOnce('a', 2_000, 1_000), true);
  assert.equal(cache.recordOnce('b', 2_000, 1_000), true);
  assert.equal(cache.recordOnce('c', 2_000, 1_000), true); // evicts the oldest ('a')
  assert.equal(cache.recordOnce('b', 2_000, 1_500), false);
});

test('formats the challenge as RFC 9449 §7.1 shows', () => {
  assert.equal(formatDpopChallenge({}), 'DPoP algs="ES256 EdDSA RS256 PS256"');
  assert.equal(formatDpopChallenge({ error: 'invalid_dpop_proof', errorDescription: 'Invalid "proof"' }),
    'DPoP algs="ES256 EdDSA RS256 PS256", error="invalid_dpop_proof", error_description="Invalid \\"proof\\""');
});
