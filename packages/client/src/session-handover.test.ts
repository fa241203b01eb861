/**
 * verifySessionHandover against a real Gatehouse (the authorization server's test harness): tokens are
 * signed with the server's own handover key (loaded from its storage, as the server loads it), verified
 * through the published JWKS, and every refusal the issue lists is checked: expired, replayed, wrong
 * `aud`, wrong `typ`, tampered, and an access token passed as a handover.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { loadSigningKey, SESSION_HANDOVER_SIGNING_KEY_SETTING, type SigningKey } from '../../authorization-server/src/tokens/signing-key.ts';
import { signSessionHandover, type SessionHandoverClaims } from '../../authorization-server/src/tokens/session-handover.ts';
import { obtainTokens, seed, startTestServer, type TestServer } from '../../authorization-server/src/testing/harness.ts';
import { createGatehouseClient } from './gatehouse-client.ts';
import { generateEncryptionKey } from './encryption.ts';
import { silentLogger } from './logging.ts';
import { createMemoryTokenStore } from './stores/memory.ts';
import { createMemorySessionHandoverReplayStore, createSessionHandoverVerifier, SessionHandoverError, type SessionHandoverVerifier } from './session-handover.ts';

const clientId = seed.confidentialClient.id;
const company = seed.companies[0];

describe('verifySessionHandover (session handover tokens from Gatehouse)', () => {
  let server: TestServer;
  let key: SigningKey;
  let verifier: SessionHandoverVerifier;

  before(async () => {
    server = await startTestServer({ accessTokenFormat: 'jwt' });
    key = await loadSigningKey(server.storage, SESSION_HANDOVER_SIGNING_KEY_SETTING);
    verifier = createSessionHandoverVerifier({ issuer: server.issuer, clientId, clock: server.clock, replayStore: createMemorySessionHandoverReplayStore() });
  });
  after(() => server.close());

  const claims = (overrides: Partial<SessionHandoverClaims> = {}): SessionHandoverClaims => {
    const now = server.clock.nowSeconds();
    return {
      issuer: server.issuer, urnNamespace: 'gatehouse', clientId, userId: seed.users.alice.id,
      subject: { subjectType: 'company', subjectId: company.id }, locale: 'en', tokenId: randomUUID(), issuedAt: now, expiresAt: now + 120, ...overrides,
    };
  };
  const url = (token: string) => `https://partner.example/start?tab=1&gatehouse_id_token=${token}`;
  const refused = async (promise: Promise<unknown>, reason: string) => {
    await assert.rejects(promise, (error: unknown) => error instanceof SessionHandoverError && error.reason === reason && !error.message.includes('eyJ'));
  };

  it('verifies a handover signed by the published key and returns the user and company', async () => {
    const token = await signSessionHandover(key, claims());
    const handover = await verifier.verify(url(token));
    assert.equal(handover.userId, seed.users.alice.id);
    assert.equal(handover.companyId, company.id);
    assert.equal(handover.subjectType, 'company');
    assert.equal(handover.subjectUrn, `urn:gatehouse:company:${company.id}`);
    assert.equal(handover.locale, 'en');
    assert.equal(handover.expiresAt, server.clock.nowSeconds() + 120);
  });

  it('refuses a replayed handover (one-time use by jti)', async () => {
    const token = await signSessionHandover(key, claims());
    await verifier.verify(url(token));
    await refused(verifier.verify(url(token)), 'replayed');
  });

  it('refuses an expired handover (injected clock moved past exp and the skew)', async () => {
    const token = await signSessionHandover(key, claims());
    server.clock.advanceSeconds(126);
    try {
      await refused(verifier.verify(url(token)), 'expired');
    } finally {
      server.clock.advanceSeconds(-126);
    }
  });

  it('refuses a handover for another client (wrong aud)', async () => {
    await refused(verifier.verify(url(await signSessionHandover(key, claims({ clientId: seed.publicClient.id })))), 'wrong_audience');
  });

  it('refuses a handover from another issuer', async () => {
    await refused(verifier.verify(url(await signSessionHandover(key, claims({ issuer: 'https://evil.example' })))), 'wrong_issuer');
  });

  it('refuses a token with the wrong typ, and an access token (at+jwt) passed as a handover', async () => {
    const otherType = await signSessionHandover(key, claims({ urnNamespace: 'other' }));
    await refused(verifier.verify(url(otherType)), 'wrong_type');
    const { tokens } = await obtainTokens(server);
    await refused(verifier.verify(url(tokens.access_token)), 'wrong_type');
    // An opaque access token is not even a JWS.
    const opaque = await startTestServer();
    try {
      const { tokens: opaqueTokens } = await obtainTokens(opaque);
      await refused(verifier.verify(url(opaqueTokens.access_token)), 'malformed');
    } finally {
      await opaque.close();
    }
  });

  it('refuses a tampered handover (another company in the payload) and one signed by an unknown key', async () => {
    const token = await signSessionHandover(key, claims());
    const [head, body, signature] = token.split('.');
    const payload = JSON.parse(Buffer.from(body!, 'base64url').toString());
    payload.company_id = seed.companies[1].id;
    payload['urn:gatehouse:params:oauth:subject_urn'] = `urn:gatehouse:company:${seed.companies[1].id}`;
    const tampered = `${head}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${signature}`;
    await refused(verifier.verify(url(tampered)), 'invalid_signature');
    const other = await startTestServer();
    try {
      const foreignKey = await loadSigningKey(other.storage, SESSION_HANDOVER_SIGNING_KEY_SETTING);
      await refused(verifier.verify(url(await signSessionHandover(foreignKey, claims()))), 'invalid_signature');
    } finally {
      await other.close();
    }
  });

  it('refuses a missing, repeated or malformed parameter', async () => {
    await refused(verifier.verify('https://partner.example/start'), 'missing');
    const token = await signSessionHandover(key, claims());
    await refused(verifier.verify(`${url(token)}&gatehouse_id_token=${token}`), 'malformed');
    await refused(verifier.verify(url('not-a-jwt')), 'malformed');
  });

  it('is also a method of the client (discovered jwks_uri, its own replay store)', async () => {
    const gatehouse = createGatehouseClient({
      issuer: server.issuer, environment: 'development', clientId, clientSecret: seed.confidentialClient.secret, redirectUri: seed.confidentialClient.redirectUri,
      scope: 'users:read', store: createMemoryTokenStore(), encryptionKeys: [generateEncryptionKey('k')], clock: server.clock, logger: silentLogger,
    });
    const token = await signSessionHandover(key, claims());
    assert.equal((await gatehouse.verifySessionHandover(new URL(url(token)))).companyId, company.id);
    await refused(gatehouse.verifySessionHandover(url(token)), 'replayed');
  });
});

describe('verifySessionHandover when the JWKS cannot be had', () => {
  /** A well-formed handover signed with a key of its own: the verifier fetches the JWKS before it can tell more. */
  async function someHandover(): Promise<string> {
    const { privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ company_id: company.id, 'urn:gatehouse:params:oauth:subject_urn': `urn:gatehouse:company:${company.id}` })
      .setProtectedHeader({ alg: 'ES256', typ: 'gatehouse_id+jwt', kid: 'k1' }).setIssuer('https://gatehouse.example').setAudience(clientId)
      .setSubject(seed.users.alice.id).setJti(randomUUID()).setIssuedAt(now).setExpirationTime(now + 120).sign(privateKey);
  }

  it('a JWKS endpoint answering 503, 404 or a body that is not JSON is jwks_unavailable (Gatehouse is not answering), never malformed', async () => {
    const token = await someHandover();
    const answers: Array<() => Response> = [
      () => new Response('{"error":"temporarily_unavailable"}', { status: 503, headers: { 'retry-after': '5' } }),
      () => new Response('not found', { status: 404 }),
      () => new Response('<html>maintenance</html>', { status: 200, headers: { 'content-type': 'text/html' } }),
    ];
    for (const answer of answers) {
      const verifier = createSessionHandoverVerifier({
        issuer: 'https://gatehouse.example', clientId, replayStore: createMemorySessionHandoverReplayStore(), fetch: async () => answer(),
      });
      await assert.rejects(verifier.verify(`https://partner.example/start?gatehouse_id_token=${token}`),
        (error: unknown) => error instanceof SessionHandoverError && error.reason === 'jwks_unavailable');
    }
  });
});
