import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { BearerTokenError, INVALID_TOKEN_DESCRIPTION } from './bearer-token-error.ts';
import type { ForgedSigning } from './testing/stub-authorization-server.ts';
import { AUDIENCE, CLIENT_ID, COMPANY_URN, createVerifierFixture, rejection, VALIDATION_MODES } from './verifier-fixture.ts';
import type { VerifierFixture } from './verifier-fixture.ts';

/**
 * Every refusal the issue lists, in both validation modes, against the same stub authorization
 * server (JWT access tokens, which it also introspects). Where the modes differ only in when they
 * learn of a revocation, the test moves the clock to that mode's documented bound.
 */

/**
 * How long after a revocation the mode may still accept the token, milliseconds: introspection
 * serves a cached answer for its TTL (5 s); local mode learns at its next feed poll (every 2 s).
 * Both are within the 5 s bound of SPEC decision 7.
 */
function staleWindowMs(fixture: VerifierFixture): number {
  return fixture.mode === 'local' ? 2_000 : 5_000;
}

/** Refused with the one fixed description (no oracle); `reason` (logged, never sent) names the cause. */
async function expectInvalidToken(fixture: VerifierFixture, token: string, reason: RegExp): Promise<void> {
  const error = await rejection(fixture.verify(token), BearerTokenError);
  assert.equal(error.status, 401);
  assert.equal(error.bearerError, 'invalid_token');
  assert.equal(error.errorDescription, INVALID_TOKEN_DESCRIPTION);
  assert.match(error.reason ?? '', reason);
  assert.match(error.headers['www-authenticate'] ?? '', /^Bearer realm="http:\/\/localhost:3001", error="invalid_token"/);
}

for (const mode of VALIDATION_MODES) {
  describe(`refusals in ${mode} mode`, () => {
    async function withFixture(body: (fixture: VerifierFixture) => Promise<void>): Promise<void> {
      const fixture = await createVerifierFixture(mode);
      try {
        await body(fixture);
      } finally {
        fixture.verifier.close();
      }
    }

    test('a valid token yields the same claims shape in both modes', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue();
        const claims = decodeJwt(token);
        assert.deepEqual(await fixture.verify(token, ['users:read']), {
          clientId: CLIENT_ID,
          clientName: 'Ledgerly Sync',
          scope: ['users:read', 'vendors:read'],
          subjectType: 'company',
          subjectId: 'd4290d20-6495-471e-bcac-5d9e0a4d844e',
          subjectUrn: COMPANY_URN,
          userId: 'a3e3fc33-5e1b-4cac-81ad-b7accdcd5313',
          expiresAt: claims.exp,
          issuedAt: claims.iat,
          tokenId: claims.jti,
        });
      }));

    test('no credentials: 401 without error code; malformed header: 400 invalid_request', () =>
      withFixture(async (fixture) => {
        const missing = await rejection(fixture.verifier.verifyAccessToken(undefined, []), BearerTokenError);
        assert.equal(missing.status, 401);
        assert.equal(missing.bearerError, undefined);
        const malformed = await rejection(fixture.verifier.verifyAccessToken('Bearer two tokens', []), BearerTokenError);
        assert.equal(malformed.status, 400);
        assert.equal(malformed.bearerError, 'invalid_request');
      }));

    test('a cached token in a malformed header is still 400 invalid_request or 401: the cache shortcut accepts only a well-formed header (RFC 6750 §2.1, §3.1)', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue();
        await fixture.verify(token, ['users:read']); // now cached
        for (const header of [`Bearer ${token}, Bearer ${token}`, [`Bearer ${token}`, `Bearer ${token}`], `Bearer\t${token}`, `Bearer ${token} x`, `Bearer ${token}!`]) {
          const error = await rejection(fixture.verifier.verifyAccessToken(header, ['users:read']), BearerTokenError);
          assert.equal(error.status, 400, JSON.stringify(header).slice(0, 40));
          assert.equal(error.bearerError, 'invalid_request');
        }
        for (const header of [`Basic ${token}`, `Bearerx ${token}`]) {
          const error = await rejection(fixture.verifier.verifyAccessToken(header, ['users:read']), BearerTokenError);
          assert.equal(error.status, 401);
          assert.equal(error.bearerError, undefined);
        }
        assert.equal((await fixture.verifier.verifyAccessToken(`  bearer   ${token} `, ['users:read'])).tokenId, decodeJwt(token).jti);
      }));

    test('a token sharing the cached token\'s last characters is verified on its own and refused (the cache matches whole tokens)', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue();
        await fixture.verify(token, ['users:read']); // now cached
        const lookalike = `x${token.slice(1)}`;
        await expectInvalidToken(fixture, lookalike, /./);
        assert.equal((await fixture.verify(token, ['users:read'])).tokenId, decodeJwt(token).jti);
      }));

    test('a token in the query string or a form body is refused (RFC 6750 §2.2, §2.3)', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue();
        for (const sources of [
          { query: { access_token: token } },
          { query: new URLSearchParams({ access_token: token }) },
          { body: { access_token: token }, contentType: 'application/x-www-form-urlencoded' },
        ]) {
          assert.throws(
            () => fixture.verifier.rejectAccessTokenOutsideHeader(sources),
            (error) => error instanceof BearerTokenError && error.status === 400 && error.bearerError === 'invalid_request',
          );
        }
      }));

    test('an expired token is refused once past exp plus the clock skew', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue({ expiresInSeconds: 60 });
        await fixture.verify(token);
        await fixture.clock.advance(65_000);
        await expectInvalidToken(fixture, token, fixture.mode === 'local' ? /expired/ : /not active|expired/);
      }));

    test('a token from another issuer is refused', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue({ claims: { iss: 'https://evil.example' } });
        await expectInvalidToken(fixture, token, /issued by another authorization server/);
      }));

    test('a token for another audience is refused', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue({ claims: { aud: 'https://other-api.example' } });
        await expectInvalidToken(fixture, token, /not issued for this resource server/);
      }));

    const forgeries: Array<[ForgedSigning, RegExp]> = [
      ['alg-none', /not signed with ES256/],
      ['hs256-public-key', /not signed with ES256/],
      ['rs256', /not signed with ES256/],
      ['unpublished-key', /key the authorization server does not publish/],
      ['wrong-key-same-kid', /signature is not valid/],
    ];
    for (const [forge, localReason] of forgeries) {
      test(`a token with a forged signature (${forge}) is refused`, () =>
        withFixture(async (fixture) => {
          const token = await fixture.issue({ forge });
          // Introspection: the authorization server never issued it, so it is simply not active.
          await expectInvalidToken(fixture, token, fixture.mode === 'local' ? localReason : /not active/);
        }));
    }

    test('a revoked token is refused within the bound, not before the mode learns of it', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue();
        await fixture.verify(token);
        fixture.stub.revoke(token);
        await fixture.clock.advance(staleWindowMs(fixture) - 1);
        await fixture.verify(token);
        await fixture.clock.advance(1);
        await expectInvalidToken(fixture, token, fixture.mode === 'local' ? /revoked or superseded/ : /not active/);
      }));

    test('a token superseded by a refresh is refused within the bound; the new one works', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue();
        await fixture.verify(token);
        const refreshed = await fixture.stub.refresh(token);
        await fixture.clock.advance(staleWindowMs(fixture));
        await expectInvalidToken(fixture, token, fixture.mode === 'local' ? /revoked or superseded/ : /not active/);
        assert.equal((await fixture.verify(refreshed)).clientId, CLIENT_ID);
      }));

    test("a suspended client's tokens are refused within the bound; other clients' are not", () =>
      withFixture(async (fixture) => {
        const suspended = await fixture.issue();
        const other = await fixture.issue({ clientId: '9d5c5c88-0bca-4046-bfa2-c90507901389', clientName: 'Ledgerly Mobile' });
        await fixture.verify(suspended);
        fixture.stub.suspendClient(CLIENT_ID);
        await fixture.clock.advance(staleWindowMs(fixture));
        await expectInvalidToken(fixture, suspended, fixture.mode === 'local' ? /revoked or superseded/ : /not active/);
        assert.equal((await fixture.verify(other)).clientName, 'Ledgerly Mobile');
      }));

    test('a revoked, a forged, an expired, an unknown and a garbage token get one and the same error_description (no oracle)', () =>
      withFixture(async (fixture) => {
        const revoked = await fixture.issue();
        await fixture.verify(revoked);
        fixture.stub.revoke(revoked);
        const forged = await fixture.issue({ forge: 'wrong-key-same-kid' });
        const expired = await fixture.issue({ expiresInSeconds: 1 });
        // Past both modes' staleness window and past exp plus the 5 s clock skew.
        await fixture.clock.advance(6_000);
        const refusals = [];
        for (const token of [revoked, forged, expired, 'kwu9xRtq7VwqVnj9bije56BeiktkPPwLRCfD77hsDZQ', 'garbage', 'a.b.c']) {
          refusals.push(await rejection(fixture.verify(token), BearerTokenError));
        }
        for (const refusal of refusals) {
          assert.equal(refusal.status, 401);
          assert.deepEqual(refusal.body, { error: 'invalid_token', error_description: INVALID_TOKEN_DESCRIPTION });
          assert.equal(refusal.headers['www-authenticate'], `Bearer realm="${AUDIENCE}", error="invalid_token", error_description="${INVALID_TOKEN_DESCRIPTION}"`);
        }
        // The causes are kept apart for the logs only.
        assert.ok(refusals.every((refusal) => typeof refusal.reason === 'string' && refusal.reason !== INVALID_TOKEN_DESCRIPTION));
      }));

    for (const order of ['good+bad', 'bad+good'] as const) {
      test(`two Authorization headers (${order}) are 400 invalid_request, and the good token is not even looked at (RFC 6750 §3.1)`, () =>
        withFixture(async (fixture) => {
          const good = `Bearer ${await fixture.issue()}`;
          const bad = 'Bearer not-a-token';
          const headers = order === 'good+bad' ? [good, bad] : [bad, good];
          const introspectionsBefore = fixture.requestsTo('/oauth/token/introspect');
          for (const header of [headers, headers.join(', ')]) {
            const error = await rejection(fixture.verifier.verifyAccessToken(header, []), BearerTokenError);
            assert.equal(error.status, 400);
            assert.equal(error.bearerError, 'invalid_request');
            assert.match(error.headers['www-authenticate'] ?? '', /error="invalid_request"/);
          }
          assert.equal(fixture.requestsTo('/oauth/token/introspect'), introspectionsBefore, 'no introspection');
          assert.equal((await fixture.verifier.verifyAccessToken([good], [])).clientId, CLIENT_ID, 'one header alone still works');
        }));
    }

    test('a missing scope is 403 insufficient_scope', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue({ scope: 'vendors:read' });
        const error = await rejection(fixture.verify(token, ['users:read']), BearerTokenError);
        assert.equal(error.status, 403);
        assert.equal(error.bearerError, 'insufficient_scope');
        assert.equal(error.realm, AUDIENCE);
      }));

    test('a token without a company or organization subject is refused', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue({ claims: { 'urn:gatehouse:params:oauth:subject_urn': undefined } });
        await expectInvalidToken(fixture, token, /no company or organization subject/);
      }));
  });
}
