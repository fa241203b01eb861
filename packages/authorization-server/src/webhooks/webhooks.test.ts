/**
 * Issue 15 §5, partner webhooks, black box: a real receiver (node:http on 127.0.0.1) gets Standard
 * Webhooks-signed events after a Disconnect and after a refresh token reuse detection, verified with the
 * SDK's `verifyWebhook`; a failing receiver is retried with exponential backoff (the injected clock, no sleeps).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, beforeEach, describe, it, mock } from 'node:test';
import { verifyWebhook } from '@gatehouse/client';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { Browser, confidentialAuth, inputValue, obtainTokens, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { deliverDueWebhooks, webhookBackoffSeconds } from './webhook-worker.ts';
import { encryptWebhookSecret, newWebhookSecret, webhookSecretKey } from './webhook-secret.ts';

interface Received { url: string; headers: Record<string, string>; body: string }

describe('partner webhooks (issue 15 §5)', () => {
  const tokenHmacKey = randomBytes(32);
  let server: TestServer;
  let adminToken: string;
  let receiver: Server;
  let hookUrl: string;
  let received: Received[] = [];
  let answerStatus = 204;
  let secret: string;

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
  const verified = (message: Received) => {
    mock.timers.enable({ apis: ['Date'], now: server.clock.nowSeconds() * 1000 });
    try {
      return verifyWebhook(message.body, message.headers, secret);
    } finally {
      mock.timers.reset();
    }
  };

  before(async () => {
    server = await startTestServer({ tokenHmacKey, refreshTokenReuseGraceSeconds: 0 });
    adminToken = (await createAdminToken(server.storage, 'ops-alice', server.clock.nowSeconds())).token;
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ url: request.url ?? '', headers: request.headers as Record<string, string>, body });
        response.statusCode = answerStatus;
        response.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks/gatehouse`;
  });
  after(async () => {
    await server.close();
    await new Promise((resolve) => receiver.close(resolve));
  });
  beforeEach(() => {
    received = [];
    answerStatus = 204;
  });

  it('PUT /webhook answers the whsec_ secret once; the database holds it only encrypted; audit never has it', async () => {
    const set = await admin('PUT', `/clients/${seed.confidentialClient.id}/webhook`, { url: hookUrl });
    assert.equal(set.status, 200);
    assert.match(set.json.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.equal(set.json.url, hookUrl);
    secret = set.json.secret;
    const stored = await server.storage.webhooks.findEndpoint(seed.confidentialClient.id);
    assert.ok(stored && !stored.secretCiphertext.includes(secret.slice(6)) && stored.secretCiphertext.startsWith('v1.'));
    const events = await server.storage.audit.list({ clientId: seed.confidentialClient.id, types: ['client.webhook_set'] });
    assert.equal(events.length, 1);
    assert.ok(!JSON.stringify(events).includes(secret.slice(6)), 'the secret is not in the audit log');
  });

  it('refuses a non-https URL (400, field url), an unknown client (404), no admin token (401), and stores nothing', async () => {
    const plain = await admin('PUT', `/clients/${seed.confidentialClient.id}/webhook`, { url: 'http://partner.example/hook' });
    assert.equal(plain.status, 400);
    assert.equal(plain.json.error, 'invalid_request');
    assert.equal(plain.json.field, 'url');
    assert.equal((await server.storage.webhooks.findEndpoint(seed.confidentialClient.id))?.url, hookUrl, 'unchanged');
    assert.equal((await admin('PUT', '/clients/00000000-0000-4000-8000-000000000000/webhook', { url: hookUrl })).status, 404);
    assert.equal(await server.storage.webhooks.findEndpoint('00000000-0000-4000-8000-000000000000'), undefined);
    const anonymous = await fetch(`${server.url}/admin/v1/clients/${seed.confidentialClient.id}/webhook`, { method: 'DELETE' });
    assert.equal(anonymous.status, 401);
    assert.ok(await server.storage.webhooks.findEndpoint(seed.confidentialClient.id), 'not removed');
  });

  it('a Disconnect sends a signed grant.revoked (reason user_disconnected) that verifyWebhook accepts, with no token in it', async () => {
    const { tokens } = await obtainTokens(server);
    const grant = (await server.storage.grants.listActive({ clientId: seed.confidentialClient.id }))[0]!;
    const browser = new Browser();
    const path = '/account/connected-apps';
    const login = await browser.get(`${server.url}${path}`);
    await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: path, email: seed.users.alice.email, password: seed.users.alice.password });
    const page = await browser.get(`${server.url}${path}`);
    const done = await browser.post(`${server.url}${path}/${grant.grantId}/disconnect`, { _csrf: inputValue(page.text, '_csrf')!, confirm: 'yes' });
    assert.equal(done.status, 303);

    assert.deepEqual(await deliver(), { attempted: 1, delivered: 1 });
    assert.equal(received.length, 1);
    const event = verified(received[0]!);
    assert.equal(event.type, 'grant.revoked');
    assert.deepEqual(event.data, { grant_id: grant.grantId, client_id: seed.confidentialClient.id, subject_urn: `urn:gatehouse:${grant.subjectType}:${grant.subjectId}`, reason: 'user_disconnected' });
    assert.match(received[0]!.headers['webhook-id']!, /^msg_/);
    assert.equal(received[0]!.headers['webhook-timestamp'], String(server.clock.nowSeconds()));
    for (const value of [tokens.access_token, tokens.refresh_token]) assert.ok(!received[0]!.body.includes(value), 'never a token');
    assert.deepEqual(await deliver(), { attempted: 0, delivered: 0 }, 'delivered once');
  });

  it('a refresh token reuse detection sends grant.revoked with reason refresh_token_reuse (SPEC decision 8)', async () => {
    const { tokens } = await obtainTokens(server);
    const rotated = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
    assert.equal(rotated.status, 200);
    assert.deepEqual(await deliver(), { attempted: 0, delivered: 0 }, 'a rotation is no event');
    const replayed = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
    assert.equal(replayed.json.error, 'invalid_grant');
    await deliver();
    assert.equal(received.length, 1);
    const event = verified(received[0]!);
    assert.equal(event.type, 'grant.revoked');
    assert.equal(event.type === 'grant.revoked' && event.data.reason, 'refresh_token_reuse');
    assert.ok(!received[0]!.body.includes(tokens.refresh_token));
  });

  it('a failing receiver is retried with exponential backoff (30 s, 60 s, …) under the same webhook-id; the log and resend work through the admin API', async () => {
    const { tokens } = await obtainTokens(server);
    const grant = (await server.storage.grants.listActive({ clientId: seed.confidentialClient.id }))[0]!;
    assert.ok(tokens.access_token);
    answerStatus = 503;
    assert.equal((await admin('DELETE', `/grants/${grant.grantId}`)).status, 200);
    const start = server.clock.nowSeconds();
    assert.deepEqual(await deliver(), { attempted: 1, delivered: 0 });
    const logOf = async () => (await admin('GET', `/clients/${seed.confidentialClient.id}/webhook/deliveries`)).json
      .find((entry: { event: { data: { grant_id?: string } } }) => entry.event.data.grant_id === grant.grantId);
    let logged = await logOf();
    assert.deepEqual([logged.attempts, logged.last_status, logged.next_attempt_at, logged.delivered_at], [1, 503, start + webhookBackoffSeconds(1), null]);
    assert.equal(logged.event.data.reason, 'admin_revoked');

    server.clock.advanceSeconds(29);
    assert.deepEqual(await deliver(), { attempted: 0, delivered: 0 }, 'not before the backoff');
    server.clock.advanceSeconds(1);
    await deliver();
    logged = await logOf();
    assert.deepEqual([logged.attempts, logged.next_attempt_at], [2, start + 30 + 60], 'the delay doubles');

    answerStatus = 200;
    server.clock.advanceSeconds(60);
    assert.deepEqual(await deliver(), { attempted: 1, delivered: 1 });
    assert.equal(received.length, 3);
    assert.equal(new Set(received.map((message) => message.headers['webhook-id'])).size, 1, 'one webhook-id on every attempt');
    assert.equal(verified(received[2]!).type, 'grant.revoked');

    const resend = await admin('POST', `/clients/${seed.confidentialClient.id}/webhook/deliveries/${logged.delivery_id}/resend`);
    assert.equal(resend.status, 202);
    assert.equal((await admin('POST', `/clients/${seed.confidentialClient.id}/webhook/deliveries/msg_unknown/resend`)).status, 404);
    assert.deepEqual(await deliver(), { attempted: 1, delivered: 1 });
    assert.equal(received[3]!.headers['webhook-id'], logged.delivery_id);
  });

  it('gives up after maxAttempts (next_attempt_at null, never sent again) and caps the backoff at maxDelaySeconds', async () => {
    answerStatus = 500;
    const now = server.clock.nowSeconds();
    await server.storage.webhooks.enqueue({
      deliveryId: 'msg_give_up', clientId: seed.confidentialClient.id, eventType: 'client.suspended', payload: '{"type":"client.suspended"}', createdAt: now,
      attempts: 7, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
    });
    assert.deepEqual(await deliverDueWebhooks({ storage: server.storage, clock: server.clock, secretKey: webhookSecretKey(tokenHmacKey), environment: 'development', maxAttempts: 8 }), { attempted: 1, delivered: 0 });
    const logged = (await admin('GET', `/clients/${seed.confidentialClient.id}/webhook/deliveries`)).json.find((entry: { delivery_id: string }) => entry.delivery_id === 'msg_give_up');
    assert.deepEqual([logged.delivery_id, logged.attempts, logged.last_status, logged.next_attempt_at], ['msg_give_up', 8, 500, null]);
    server.clock.advanceSeconds(86_400);
    assert.deepEqual(await deliver(), { attempted: 0, delivered: 0 });
    assert.deepEqual([1, 2, 3, 7, 20].map((attempts) => webhookBackoffSeconds(attempts)), [30, 60, 120, 1920, 3600]);
  });

  it('production: a delivery to an address that is not public is never sent, and is retried later like an unreachable receiver', async () => {
    const now = server.clock.nowSeconds();
    await server.storage.webhooks.enqueue({
      deliveryId: 'msg_not_public', clientId: seed.confidentialClient.id, eventType: 'client.suspended', payload: '{"type":"client.suspended"}', createdAt: now,
      attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
    });
    // The receiver is on 127.0.0.1: fine in development, refused where only public addresses may be reached.
    assert.deepEqual(await deliverDueWebhooks({ storage: server.storage, clock: server.clock, secretKey: webhookSecretKey(tokenHmacKey), environment: 'production' }), { attempted: 1, delivered: 0 });
    assert.equal(received.length, 0, 'nothing reached the receiver');
    const logged = (await admin('GET', `/clients/${seed.confidentialClient.id}/webhook/deliveries`)).json.find((entry: { delivery_id: string }) => entry.delivery_id === 'msg_not_public');
    assert.deepEqual([logged.attempts, logged.last_status, logged.next_attempt_at], [1, 0, now + webhookBackoffSeconds(1)]);
    // Delivered once the rule does not apply (development), so the refusal above was the rule, not the receiver.
    server.clock.advanceSeconds(webhookBackoffSeconds(1));
    assert.deepEqual(await deliver(), { attempted: 1, delivered: 1 });
    assert.equal(received.length, 1);
  });

  it('events of one second reach the receiver in the order they happened, with time-ordered webhook-ids', async () => {
    const clientPath = `/clients/${seed.confidentialClient.id}`;
    for (const step of ['suspend', 'reactivate', 'suspend', 'reactivate']) assert.equal((await admin('POST', `${clientPath}/${step}`)).status, 200, step);
    await deliver();
    assert.deepEqual(received.map((message) => verified(message).type), ['client.suspended', 'client.reactivated', 'client.suspended', 'client.reactivated']);
    const ids = received.map((message) => message.headers['webhook-id']!);
    assert.deepEqual([...ids].sort(), ids, 'webhook-ids sort in the order of the events');
  });

  it('a delivery whose secret cannot be read (GATEHOUSE_TOKEN_KEY changed, this webhook not set again yet) fails alone, retried like an unreachable receiver: the rest of the run still goes out', async () => {
    const now = server.clock.nowSeconds();
    // The public client's webhook, its secret encrypted under another key (README: a changed token key makes stored secrets unreadable).
    const otherKey = webhookSecretKey(randomBytes(32));
    await server.storage.webhooks.setEndpoint({
      clientId: seed.publicClient.id, url: hookUrl, secretCiphertext: encryptWebhookSecret(otherKey, seed.publicClient.id, newWebhookSecret()), createdAt: now,
    });
    // The unreadable one is due first (deliveries go out in id order).
    for (const [deliveryId, clientId] of [['msg_a_unreadable', seed.publicClient.id], ['msg_b_readable', seed.confidentialClient.id]] as const) {
      await server.storage.webhooks.enqueue({
        deliveryId, clientId, eventType: 'client.suspended', payload: JSON.stringify({ type: 'client.suspended', timestamp: new Date(now * 1000).toISOString(), data: { client_id: clientId } }),
        createdAt: now, attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
      });
    }
    assert.deepEqual(await deliver(), { attempted: 2, delivered: 1 });
    assert.deepEqual(received.map((message) => message.headers['webhook-id']), ['msg_b_readable']);
    assert.equal(verified(received[0]!).type, 'client.suspended');
    const unreadable = (await server.storage.webhooks.list(seed.publicClient.id, 10)).find((delivery) => delivery.deliveryId === 'msg_a_unreadable')!;
    assert.deepEqual([unreadable.attempts, unreadable.lastStatus, unreadable.nextAttemptAt, unreadable.deliveredAt], [1, 0, now + webhookBackoffSeconds(1), null]);
    assert.equal(await server.storage.webhooks.removeEndpoint(seed.publicClient.id), true);
  });

  it('suspending the client sends client.suspended; DELETE /webhook stops deliveries; the metadata is unchanged', async () => {
    const before = await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).text();
    assert.ok(!before.includes('webhook'));
    assert.equal((await admin('POST', `/clients/${seed.confidentialClient.id}/suspend`)).status, 200);
    await deliver();
    assert.equal(received.length, 1);
    assert.deepEqual(verified(received[0]!).data, { client_id: seed.confidentialClient.id });
    assert.equal((await admin('DELETE', `/clients/${seed.confidentialClient.id}/webhook`)).status, 204);
    assert.equal((await admin('DELETE', `/clients/${seed.confidentialClient.id}/webhook`)).status, 404);
    assert.equal(await server.storage.webhooks.findEndpoint(seed.confidentialClient.id), undefined);
    assert.equal((await admin('POST', `/clients/${seed.confidentialClient.id}/reactivate`)).status, 200);
  });

  it('a URL with a query (a partner\'s token in it) is stored and delivered to whole; its audit event records it with the query redacted', async () => {
    const token = randomBytes(16).toString('hex');
    const url = `${hookUrl}?token=${token}&tenant=fjord`;
    const set = await admin('PUT', `/clients/${seed.confidentialClient.id}/webhook`, { url });
    assert.equal(set.status, 200);
    assert.equal((await server.storage.webhooks.findEndpoint(seed.confidentialClient.id))?.url, url, 'stored whole');
    const [event] = await server.storage.audit.list({ clientId: seed.confidentialClient.id, types: ['client.webhook_set'], limit: 1 });
    assert.deepEqual(event?.details, { url: `${hookUrl}?[redacted]`, event_types: 'all' });
    const everything = JSON.stringify(await server.storage.audit.list({ limit: 1000 }));
    assert.ok(!everything.includes(token) && !everything.includes('tenant=fjord'), 'no query value (nor name) anywhere in the audit log');
    // Delivered to the whole URL: the receiver gets its query.
    const now = server.clock.nowSeconds();
    await server.storage.webhooks.enqueue({
      deliveryId: 'msg_query_url', clientId: seed.confidentialClient.id, eventType: 'client.suspended', payload: '{"type":"client.suspended"}',
      createdAt: now, attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
    });
    assert.deepEqual(await deliver(), { attempted: 1, delivered: 1 });
    assert.equal(received[0]?.url, `/hooks/gatehouse?token=${token}&tenant=fjord`);
    assert.equal((await admin('DELETE', `/clients/${seed.confidentialClient.id}/webhook`)).status, 204);
  });
});
