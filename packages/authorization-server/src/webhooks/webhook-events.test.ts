/**
 * Issue 15 §5, the events beyond disconnect/reuse/suspension, black box: a real receiver (node:http on
 * 127.0.0.1) gets Standard Webhooks-signed `grant.revoked` after an authorization-code replay, a secret
 * rotation with revoke_grants, a client deletion and a company deletion, plus `client.reactivated` and
 * `client.deleted`; each verified with the SDK's `verifyWebhook`, none carrying a token or code; an
 * endpoint subscribed to some events gets only those.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, beforeEach, describe, it, mock } from 'node:test';
import { verifyWebhook } from '@gatehouse/client';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { authorize, basic, confidentialAuth, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { deliverDueWebhooks } from './webhook-worker.ts';
import { webhookSecretKey } from './webhook-secret.ts';
import { monotonicUuidV7 } from './webhook-events.ts';

interface Received { path: string; headers: Record<string, string>; body: string }

const SWEDISH_COMPANY = seed.companies[1].id;

describe('partner webhook events (issue 15 §5): every grant-revoking operation and the client lifecycle', () => {
  const tokenHmacKey = randomBytes(32);
  let server: TestServer;
  let adminToken: string;
  let receiver: Server;
  let hooksBase: string;
  let received: Received[] = [];
  let seedSecret: string;

  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.url}/admin/v1${path}`, {
      method, headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };
  const deliver = () => deliverDueWebhooks({ storage: server.storage, clock: server.clock, secretKey: webhookSecretKey(tokenHmacKey), environment: 'development' });
  /** verifyWebhook checks the timestamp against Date.now(): pin Date to the server's injected clock. */
  const verified = (message: Received, secret: string) => {
    mock.timers.enable({ apis: ['Date'], now: server.clock.nowSeconds() * 1000 });
    try {
      return verifyWebhook(message.body, message.headers, secret);
    } finally {
      mock.timers.reset();
    }
  };
  /** A whole flow for `clientId` to tokens; returns them and the grant they belong to. */
  const connect = async (clientId: string, secret: string, subject?: string) => {
    const before = new Set((await server.storage.grants.listActive({ clientId })).map((grant) => grant.grantId));
    const { redirect, codeVerifier } = await authorize(server, { clientId, ...(subject ? { subject } : {}) });
    const code = redirect.searchParams.get('code')!;
    const exchange = { grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier };
    const response = await postForm(`${server.url}/oauth/token`, exchange, { authorization: basic(clientId, secret) });
    assert.equal(response.status, 200, response.text);
    const grant = (await server.storage.grants.listActive({ clientId })).find((active) => !before.has(active.grantId))!;
    return { tokens: response.json as { access_token: string; refresh_token: string }, grant, code, exchange };
  };
  const noSecretsIn = (message: Received, values: string[]) => {
    for (const value of values) assert.ok(!message.body.includes(value), 'never a token or code in a webhook');
  };

  before(async () => {
    server = await startTestServer({ tokenHmacKey, refreshTokenReuseGraceSeconds: 0 });
    adminToken = (await createAdminToken(server.storage, 'ops-alice', server.clock.nowSeconds())).token;
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ path: request.url ?? '', headers: request.headers as Record<string, string>, body });
        response.statusCode = 204;
        response.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    hooksBase = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks`;
    const set = await admin('PUT', `/clients/${seed.confidentialClient.id}/webhook`, { url: `${hooksBase}/ledgerly` });
    assert.equal(set.status, 200);
    assert.equal(set.json.event_types, null, 'a new endpoint receives every event');
    seedSecret = set.json.secret;
  });
  after(async () => {
    await server.close();
    await new Promise((resolve) => receiver.close(resolve));
  });
  beforeEach(() => {
    received = [];
  });

  it('a proven authorization-code replay sends grant.revoked (reason authorization_code_replayed, RFC 6749 §4.1.2); the code is not in it', async () => {
    const { tokens, grant, code, exchange } = await connect(seed.confidentialClient.id, seed.confidentialClient.secret);
    const replay = await postForm(`${server.url}/oauth/token`, exchange, { authorization: confidentialAuth() });
    assert.equal(replay.status, 400);
    assert.equal(replay.json.error, 'invalid_grant');
    assert.deepEqual(await deliver(), { attempted: 1, delivered: 1 });
    const event = verified(received[0]!, seedSecret);
    assert.deepEqual(event, {
      type: 'grant.revoked', timestamp: new Date(server.clock.nowSeconds() * 1000).toISOString(),
      data: { grant_id: grant.grantId, client_id: seed.confidentialClient.id, subject_urn: `urn:gatehouse:${grant.subjectType}:${grant.subjectId}`, reason: 'authorization_code_replayed' },
    });
    noSecretsIn(received[0]!, [code, tokens.access_token, tokens.refresh_token]);
    assert.ok((await server.storage.audit.list({ clientId: seed.confidentialClient.id, types: ['authorization_code.replay_detected'] })).length >= 1);
  });

  it('an endpoint subscribed to other events gets nothing for a revocation (PATCH /webhook event_types); the grant is revoked all the same', async () => {
    const patched = await admin('PATCH', `/clients/${seed.confidentialClient.id}/webhook`, { event_types: ['client.suspended', 'client.deleted'] });
    assert.equal(patched.status, 200);
    assert.deepEqual((await admin('GET', `/clients/${seed.confidentialClient.id}/webhook`)).json,
      { client_id: seed.confidentialClient.id, url: `${hooksBase}/ledgerly`, event_types: ['client.suspended', 'client.deleted'], created_at: server.clock.nowSeconds() });
    const refused = await admin('PATCH', `/clients/${seed.confidentialClient.id}/webhook`, { event_types: ['token.issued'] });
    assert.equal(refused.status, 400);
    assert.equal((await admin('PATCH', `/clients/${seed.confidentialClient.id}/webhook`, { event_types: [] })).status, 400, 'an empty list is refused: remove the webhook instead');

    const { grant } = await connect(seed.confidentialClient.id, seed.confidentialClient.secret);
    assert.equal((await admin('DELETE', `/grants/${grant.grantId}`)).status, 200);
    assert.equal((await server.storage.grants.find(grant.grantId))?.revocationReason, 'admin_revoked');
    assert.deepEqual(await deliver(), { attempted: 0, delivered: 0 }, 'grant.revoked is not subscribed');
    assert.equal((await admin('PATCH', `/clients/${seed.confidentialClient.id}/webhook`, { event_types: null })).json.event_types, null);
  });

  it('rotate-secret with revoke_grants sends grant.revoked (client_secret_rotated) for each grant; suspend and reactivate send client.suspended and client.reactivated; deletion sends grant.revoked (client_deleted) then client.deleted', async () => {
    const registered = await admin('POST', '/clients', {
      client_name: 'Payroll Bridge', redirect_uris: [seed.confidentialClient.redirectUri], scope: 'users:read vendors:read', token_endpoint_auth_method: 'client_secret_basic',
    });
    assert.equal(registered.status, 201, JSON.stringify(registered.json));
    const clientId = registered.json.client_id as string;
    let clientSecret = registered.json.client_secret as string;
    const hook = await admin('PUT', `/clients/${clientId}/webhook`, { url: `${hooksBase}/payroll` });
    const secret = hook.json.secret as string;
    const danish = await connect(clientId, clientSecret, `urn:gatehouse:company:${seed.companies[0].id}`);
    const swedish = await connect(clientId, clientSecret, `urn:gatehouse:company:${SWEDISH_COMPANY}`);

    const rotated = await admin('POST', `/clients/${clientId}/secret`, { revoke_grants: true });
    assert.equal(rotated.json.grants_revoked, 2);
    clientSecret = rotated.json.client_secret;
    assert.deepEqual(await deliver(), { attempted: 2, delivered: 2 });
    assert.ok(received.every((message) => message.path === '/hooks/payroll'));
    const rotatedEvents = received.map((message) => verified(message, secret));
    assert.deepEqual(rotatedEvents.map((event) => event.type === 'grant.revoked' && [event.data.grant_id, event.data.subject_urn, event.data.reason]).sort(), [
      [danish.grant.grantId, `urn:gatehouse:company:${seed.companies[0].id}`, 'client_secret_rotated'],
      [swedish.grant.grantId, `urn:gatehouse:company:${SWEDISH_COMPANY}`, 'client_secret_rotated'],
    ].sort());
    for (const message of received) noSecretsIn(message, [danish.tokens.refresh_token, swedish.tokens.refresh_token, clientSecret]);

    received = [];
    assert.equal((await admin('POST', `/clients/${clientId}/suspend`)).status, 200);
    assert.equal((await admin('POST', `/clients/${clientId}/reactivate`)).status, 200);
    await deliver();
    assert.deepEqual(received.map((message) => verified(message, secret)).map((event) => [event.type, event.data]).sort(), [
      ['client.reactivated', { client_id: clientId }], ['client.suspended', { client_id: clientId }],
    ]);

    received = [];
    const again = await connect(clientId, clientSecret);
    const deleted = await admin('DELETE', `/clients/${clientId}`);
    assert.equal(deleted.json.grants_revoked, 1);
    assert.deepEqual(await deliver(), { attempted: 2, delivered: 2 }, 'a deleted client is still told');
    const deletionEvents = received.map((message) => verified(message, secret));
    assert.deepEqual(deletionEvents.map((event) => [event.type, 'reason' in event.data ? event.data.reason : null, 'grant_id' in event.data ? event.data.grant_id : null]).sort(), [
      ['client.deleted', null, null], ['grant.revoked', 'client_deleted', again.grant.grantId],
    ]);
    noSecretsIn(received[0]!, [again.tokens.access_token, again.tokens.refresh_token]);
  });

  it('POST /webhook/rotate-secret answers a new secret once; deliveries are signed with it, the old one no longer verifies; 404 without a webhook', async () => {
    const rotated = await admin('POST', `/clients/${seed.confidentialClient.id}/webhook/rotate-secret`);
    assert.equal(rotated.status, 200);
    assert.match(rotated.json.secret, /^whsec_/);
    assert.notEqual(rotated.json.secret, seedSecret);
    assert.equal((await admin('GET', `/clients/${seed.confidentialClient.id}/webhook`)).json.url, `${hooksBase}/ledgerly`, 'the URL stays');
    assert.equal((await admin('POST', `/clients/${seed.publicClient.id}/webhook/rotate-secret`)).status, 404);
    const audit = await server.storage.audit.list({ clientId: seed.confidentialClient.id, types: ['client.webhook_secret_rotated'] });
    assert.equal(audit.length, 1);
    assert.ok(!JSON.stringify(audit).includes(rotated.json.secret.slice(6)));

    const { grant } = await connect(seed.confidentialClient.id, seed.confidentialClient.secret);
    assert.equal((await admin('DELETE', `/grants/${grant.grantId}`)).status, 200);
    await deliver();
    assert.throws(() => verified(received[0]!, seedSecret), /WebhookVerificationError|signature/i);
    assert.equal(verified(received[0]!, rotated.json.secret).type, 'grant.revoked');
    seedSecret = rotated.json.secret;
  });

  it('deleting a company sends grant.revoked (company_deleted) to each client with a grant on it, with the company URN', async () => {
    const { grant, tokens } = await connect(seed.confidentialClient.id, seed.confidentialClient.secret, `urn:gatehouse:company:${SWEDISH_COMPANY}`);
    assert.equal((await admin('DELETE', `/companies/${SWEDISH_COMPANY}`)).status, 200);
    assert.deepEqual(await deliver(), { attempted: 1, delivered: 1 });
    assert.deepEqual(verified(received[0]!, seedSecret).data, {
      grant_id: grant.grantId, client_id: seed.confidentialClient.id, subject_urn: `urn:gatehouse:company:${SWEDISH_COMPANY}`, reason: 'company_deleted',
    });
    noSecretsIn(received[0]!, [tokens.access_token, tokens.refresh_token]);
  });
});

describe('monotonicUuidV7 (delivery ids: RFC 9562 §5.7, §6.2 method 1)', () => {
  it('sorts in the order made, within one millisecond too, and is a well-formed version 7 UUID', () => {
    const ids = Array.from({ length: 10_000 }, () => monotonicUuidV7(1_800_000_000_000));
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids.slice(0, 100)) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // A clock that steps back keeps the order too.
    const later = monotonicUuidV7(1_700_000_000_000);
    assert.ok(later > ids.at(-1)!);
  });
});
