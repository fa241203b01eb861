import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BearerTokenError, INVALID_TOKEN_DESCRIPTION } from '../bearer-token-error.ts';
import { IntrospectionUnavailableError } from '../introspection-unavailable-error.ts';
import { createVerifierFixture, rejection, VALIDATION_MODES } from '../verifier-fixture.ts';
import type { VerifierFixture } from '../verifier-fixture.ts';
import { toResponse, verifyRequest, withAccessToken } from './web.ts';

const API = 'http://localhost:3001';

for (const mode of VALIDATION_MODES) {
  describe(`web-standard adapter, ${mode} mode`, () => {
    async function withFixture(body: (fixture: VerifierFixture) => Promise<void>): Promise<void> {
      const fixture = await createVerifierFixture(mode);
      try {
        await body(fixture);
      } finally {
        fixture.verifier.close();
      }
    }

    function usersHandler(fixture: VerifierFixture) {
      return withAccessToken(fixture.verifier, ['users:read'], async (request, accessToken) =>
        Response.json({ clientId: accessToken.clientId, subjectUrn: accessToken.subjectUrn, body: request.body === null ? null : await request.text() }),
      );
    }

    test('verifyRequest returns the claims of a valid token', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue();
        const claims = await verifyRequest(fixture.verifier, new Request(`${API}/v1/users`, { headers: { authorization: `Bearer ${token}` } }), ['users:read']);
        assert.equal(claims.clientName, 'Ledgerly Sync');
      }));

    test('withAccessToken runs the handler with the claims, and the handler can still read a form body', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue();
        const response = await usersHandler(fixture)(
          new Request(`${API}/v1/users`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
            body: 'name=Odense+Blomster',
          }),
        );
        assert.equal(response.status, 200);
        assert.deepEqual(await response.json(), {
          clientId: '7af385a0-284d-48c5-b225-362862085551',
          subjectUrn: 'urn:gatehouse:company:d4290d20-6495-471e-bcac-5d9e0a4d844e',
          body: 'name=Odense+Blomster',
        });
      }));

    test('renders refusals: status, challenge, no-store, JSON body (RFC 6750 §3)', () =>
      withFixture(async (fixture) => {
        const handler = usersHandler(fixture);
        const missing = await handler(new Request(`${API}/v1/users`));
        assert.equal(missing.status, 401);
        assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="http://localhost:3001"');
        assert.equal(missing.headers.get('cache-control'), 'no-store');
        assert.match(missing.headers.get('content-type') ?? '', /^application\/json/);
        assert.equal((await missing.json()).error, 'unauthorized');

        const forged = await fixture.issue({ forge: 'alg-none' });
        const invalid = await handler(new Request(`${API}/v1/users`, { headers: { authorization: `Bearer ${forged}` } }));
        assert.equal(invalid.status, 401);
        assert.match(invalid.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

        const narrow = await fixture.issue({ scope: 'vendors:read' });
        const scope = await handler(new Request(`${API}/v1/users`, { headers: { authorization: `Bearer ${narrow}` } }));
        assert.equal(scope.status, 403);
        assert.deepEqual(await scope.json(), {
          error: 'insufficient_scope',
          error_description: 'The access token lacks the scope users:read that this resource requires',
          scope: 'users:read',
        });
      }));

    test('refuses a token in the query string or a form body, but not a JSON field', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue();
        const handler = usersHandler(fixture);
        const query = await handler(new Request(`${API}/v1/users?access_token=${token}`, { headers: { authorization: `Bearer ${token}` } }));
        assert.equal(query.status, 400);
        assert.match((await query.json()).error_description, /query string/);
        const form = await handler(
          new Request(`${API}/v1/users`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
            body: new URLSearchParams({ access_token: token }).toString(),
          }),
        );
        assert.equal(form.status, 400);
        assert.match((await form.json()).error_description, /request body/);
        const json = await handler(
          new Request(`${API}/v1/users`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ access_token: 'data' }),
          }),
        );
        assert.equal(json.status, 200);
      }));

    for (const order of ['good+bad', 'bad+good'] as const) {
      test(`two Authorization headers (${order}), which Headers joins with a comma, are 400 invalid_request and the handler does not run (RFC 6750 §3.1)`, () =>
        withFixture(async (fixture) => {
          const good = `Bearer ${await fixture.issue()}`;
          const bad = 'Bearer not-a-token';
          const headers = new Headers();
          for (const value of order === 'good+bad' ? [good, bad] : [bad, good]) headers.append('authorization', value);
          let ran = false;
          const handler = withAccessToken(fixture.verifier, ['users:read'], () => {
            ran = true;
            return new Response('ok');
          });
          const response = await handler(new Request(`${API}/v1/users`, { headers }));
          assert.equal(response.status, 400);
          assert.equal((await response.json()).error, 'invalid_request');
          assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_request"/);
          assert.equal(ran, false);
          assert.equal(fixture.requestsTo('/oauth/token/introspect'), 0, 'no token was introspected');
        }));
    }

    test('a revoked, a forged and a garbage token get the same error_description (no oracle)', () =>
      withFixture(async (fixture) => {
        const revoked = await fixture.issue();
        fixture.stub.revoke(revoked);
        await fixture.clock.advance(2_000);
        const forged = await fixture.issue({ forge: 'unpublished-key' });
        const bodies = [];
        for (const token of [revoked, forged, 'garbage']) {
          const response = await usersHandler(fixture)(new Request(`${API}/v1/users`, { headers: { authorization: `Bearer ${token}` } }));
          assert.equal(response.status, 401);
          bodies.push({ body: await response.json(), challenge: response.headers.get('www-authenticate') });
        }
        for (const answer of bodies) assert.deepEqual(answer, bodies[0]);
        assert.deepEqual(bodies[0]?.body, { error: 'invalid_token', error_description: INVALID_TOKEN_DESCRIPTION });
      }));

    test('renders an unavailable authorization server as 503 with Retry-After and no challenge', () =>
      withFixture(async (fixture) => {
        const token = await fixture.issue();
        if (fixture.mode === 'local') {
          fixture.stub.failures.revocationFeed = 500;
          await fixture.clock.advance(5_001);
        } else {
          fixture.stub.failures.introspection = 500;
        }
        const response = await usersHandler(fixture)(new Request(`${API}/v1/users`, { headers: { authorization: `Bearer ${token}` } }));
        assert.equal(response.status, 503);
        assert.equal(response.headers.get('retry-after'), '5');
        assert.equal(response.headers.get('www-authenticate'), null);
        assert.equal((await response.json()).error, 'temporarily_unavailable');
        await rejection(verifyRequest(fixture.verifier, new Request(`${API}/`, { headers: { authorization: `Bearer ${token}` } })), IntrospectionUnavailableError);
      }));
  });
}

describe('web-standard adapter', () => {
  test('malformed scope names fail when the handler is wrapped', async () => {
    const fixture = await createVerifierFixture('introspection');
    assert.throws(() => withAccessToken(fixture.verifier, ['users_read'], () => new Response()), TypeError);
  });

  test('errors other than refusals propagate from the handler', async () => {
    const fixture = await createVerifierFixture('introspection');
    const token = await fixture.issue();
    const handler = withAccessToken(fixture.verifier, [], () => {
      throw new RangeError('bug');
    });
    await assert.rejects(handler(new Request(`${API}/`, { headers: { authorization: `Bearer ${token}` } })), RangeError);
  });

  test('toResponse renders any ResourceServerError', async () => {
    const response = toResponse(BearerTokenError.invalidRequest('api', 'bad'));
    assert.equal(response.status, 400);
    assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="api", error="invalid_request", error_description="bad"');
    assert.deepEqual(await response.json(), { error: 'invalid_request', error_description: 'bad' });
  });
});
