/**
 * Client authentication (SPEC decisions 1, 9, 10): every HTTP Basic path does the same digest work, so the
 * time of an answer does not tell an unknown client_id from a known one (behaviour, not timing, is tested
 * here; bench/client-authentication.ts measures the time).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { OAuthError } from '../errors.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { ClientRecord, Storage } from '../storage/storage.ts';
import { basic, postForm, seed, startTestServer } from '../testing/harness.ts';
import { authenticateClient, authenticateClientCredential, type ClientAuthentication, type SecretComparison } from './client-authentication.ts';
import { digestClientSecret, generateClientSecret, secretDigestMatches, UNMATCHABLE_SECRET_DIGEST } from './client-secret.ts';

const NOW = 1_800_000_000;
const CONFIDENTIAL_ONLY = { allowPublicClients: false };

function clientRecord(overrides: Partial<ClientRecord>): ClientRecord {
  return {
    clientId: randomUUID(), kind: 'client', clientName: 'Ledgerly Sync', clientType: 'confidential', secretDigest: null,
    redirectUris: ['https://ledgerly.example/cb'], scopes: ['users:read'], subjectType: 'company', pkceRequired: true, status: 'active',
    clientUri: null, logoUri: null, tosUri: null, policyUri: null, audience: null, createdAt: NOW, initiationUri: null, settingsUri: null,
    contacts: [], ownerUserId: null, previousSecretDigest: null, previousSecretExpiresAt: null, brandingVerified: true,
    ...overrides,
  };
}

/** A spy around the real comparison: records the digest each call compared with, and the presented digest it got. */
function comparisonSpy(): SecretComparison & { digests: string[]; presented: Buffer[] } {
  const digests: string[] = [];
  const presented: Buffer[] = [];
  const spy = (presentedDigest: Buffer, storedDigest: string) => {
    digests.push(storedDigest);
    presented.push(presentedDigest);
    return secretDigestMatches(presentedDigest, storedDigest);
  };
  return Object.assign(spy, { digests, presented });
}

describe('authenticateClient: the same work on every HTTP Basic path (SPEC decision 9; no client_id enumeration by timing)', () => {
  let storage: Storage;
  const secret = generateClientSecret();
  const previousSecret = generateClientSecret();
  const confidential = clientRecord({ secretDigest: digestClientSecret(secret) });
  const rotated = clientRecord({ secretDigest: digestClientSecret(secret), previousSecretDigest: digestClientSecret(previousSecret), previousSecretExpiresAt: NOW + 60 });
  const publicClient = clientRecord({ clientType: 'public' });
  before(async () => {
    storage = createSqliteStorage(':memory:');
    for (const client of [confidential, rotated, publicClient]) await storage.clients.create(client);
  });
  after(() => storage.close());

  const attempt = async (clientId: string, presented: string, now = NOW) => {
    const spy = comparisonSpy();
    let client: ClientRecord | undefined;
    let authenticated: ClientAuthentication['authenticated'] | undefined;
    let error: OAuthError | undefined;
    try {
      ({ client, authenticated } = await authenticateClientCredential(storage, basic(clientId, presented), {}, CONFIDENTIAL_ONLY, now, spy));
    } catch (thrown) {
      if (!(thrown instanceof OAuthError)) throw thrown;
      error = thrown;
    }
    return { client, authenticated, error, digests: spy.digests, presented: spy.presented };
  };

  it('an unknown client_id still has its secret compared, twice, against a digest nothing matches', async () => {
    const result = await attempt(randomUUID(), secret);
    assert.deepEqual(result.digests, [UNMATCHABLE_SECRET_DIGEST, UNMATCHABLE_SECRET_DIGEST]);
    assert.equal(result.error?.code, 'invalid_client');
  });

  it('a wrong secret for an existing client is compared twice too: its digest, then the dummy in place of a previous secret', async () => {
    const result = await attempt(confidential.clientId, generateClientSecret());
    assert.deepEqual(result.digests, [confidential.secretDigest, UNMATCHABLE_SECRET_DIGEST]);
    assert.equal(result.error?.code, 'invalid_client');
  });

  it('a public client sending a secret is compared twice against the dummy before it is refused', async () => {
    const result = await attempt(publicClient.clientId, secret);
    assert.deepEqual(result.digests, [UNMATCHABLE_SECRET_DIGEST, UNMATCHABLE_SECRET_DIGEST]);
    assert.equal(result.error?.code, 'invalid_client');
    assert.match(result.error!.description, /public client must not send a client secret/);
  });

  it('the right secret, and a previous one inside and after its overlap, each cost the same two comparisons (SPEC decision 10)', async () => {
    const current = await attempt(confidential.clientId, secret);
    assert.equal(current.client?.clientId, confidential.clientId);
    assert.equal(current.digests.length, 2);
    // Which secret was presented goes with the client (storage.ts AuthenticatedClient: a later rotation stops the previous one).
    assert.deepEqual(current.authenticated, { clientId: confidential.clientId, secretDigest: confidential.secretDigest });
    const overlap = await attempt(rotated.clientId, previousSecret, NOW + 59);
    assert.equal(overlap.client?.clientId, rotated.clientId);
    assert.deepEqual(overlap.authenticated, { clientId: rotated.clientId, secretDigest: rotated.previousSecretDigest });
    assert.equal((await attempt(rotated.clientId, secret, NOW + 59)).authenticated?.secretDigest, rotated.secretDigest);
    assert.deepEqual(overlap.digests, [rotated.secretDigest, rotated.previousSecretDigest]);
    const afterOverlap = await attempt(rotated.clientId, previousSecret, NOW + 60);
    assert.equal(afterOverlap.error?.code, 'invalid_client');
    assert.deepEqual(afterOverlap.digests, [rotated.secretDigest, UNMATCHABLE_SECRET_DIGEST]);
  });

  it('digests the presented secret once per request: both comparisons get the same SHA-256 of it (SPEC decision 9)', async () => {
    for (const [clientId, presented] of [[randomUUID(), secret], [confidential.clientId, generateClientSecret()], [confidential.clientId, secret]] as const) {
      const result = await attempt(clientId, presented);
      assert.equal(result.presented.length, 2);
      assert.equal(result.presented[0], result.presented[1], 'one digest object, made once');
      assert.equal(result.presented[0]!.toString('base64url'), digestClientSecret(presented));
    }
  });

  it('an unknown client_id and a wrong secret for an existing client get the same error', async () => {
    const unknown = await attempt(randomUUID(), secret);
    const wrong = await attempt(confidential.clientId, generateClientSecret());
    assert.ok(unknown.error instanceof OAuthError && wrong.error instanceof OAuthError);
    assert.deepEqual(unknown.error.toJSON(), wrong.error.toJSON());
    assert.deepEqual(unknown.error.toJSON(), { error: 'invalid_client', error_description: 'client authentication failed' });
  });

  it('each request is answered for its own header, whatever the one before it (right, wrong and malformed in turn)', async () => {
    const right = basic(confidential.clientId, secret);
    const wrong = basic(confidential.clientId, generateClientSecret());
    for (const [header, expected] of [[right, 'ok'], [wrong, 'invalid_client'], [right, 'ok'], [right, 'ok'], [wrong, 'invalid_client']] as const) {
      const outcome = await authenticateClient(storage, header, {}, CONFIDENTIAL_ONLY, NOW).then(
        (client) => (client.clientId === confidential.clientId ? 'ok' : 'another client'),
        (error: unknown) => (error instanceof OAuthError ? error.code : 'thrown'),
      );
      assert.equal(outcome, expected);
    }
    // A malformed header after a well-formed one is refused, not answered with the last credentials.
    await assert.rejects(authenticateClient(storage, 'Basic !!!', {}, CONFIDENTIAL_ONLY, NOW), { code: 'invalid_client', description: 'malformed HTTP Basic credentials' });
    // The description says what is wrong: the credentials, or the scheme.
    await assert.rejects(authenticateClient(storage, 'Basic', {}, CONFIDENTIAL_ONLY, NOW), { code: 'invalid_client', description: 'malformed HTTP Basic credentials' });
    await assert.rejects(authenticateClient(storage, 'Bearer abc', {}, CONFIDENTIAL_ONLY, NOW), { code: 'invalid_client', description: 'the Authorization header must use the Basic scheme' });
  });
});

describe('POST /oauth/token: an unknown client_id and a wrong secret are answered alike (RFC 6749 §5.2)', () => {
  it('same status, same WWW-Authenticate, same body', async () => {
    const server = await startTestServer({ oauthEndpointRateLimit: false });
    try {
      const form = { grant_type: 'refresh_token', refresh_token: 'anything' };
      const unknown = await postForm(`${server.url}/oauth/token`, form, { authorization: basic(randomUUID(), generateClientSecret()) });
      const wrong = await postForm(`${server.url}/oauth/token`, form, { authorization: basic(seed.confidentialClient.id, generateClientSecret()) });
      for (const response of [unknown, wrong]) assert.equal(response.status, 401);
      assert.equal(unknown.headers.get('www-authenticate'), wrong.headers.get('www-authenticate'));
      // Issue 14: each answer carries its own request_id; everything else is the same, byte for byte.
      const withoutRequestId = (text: string) => text.replace(/,"request_id":"[^"]*"/, '');
      assert.equal(withoutRequestId(unknown.text), withoutRequestId(wrong.text));
      assert.notEqual(unknown.json.request_id, wrong.json.request_id);
      assert.deepEqual(unknown.json, { error: 'invalid_client', error_description: 'client authentication failed', request_id: unknown.headers.get('x-request-id') });
    } finally {
      await server.close();
    }
  });
});

