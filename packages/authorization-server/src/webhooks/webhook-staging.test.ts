/**
 * Issue 15 §5, webhooks outside development: a staging server, like a production one, accepts webhook URLs to
 * public addresses only (the admin API and the portal give the exact refusal) and delivers to public addresses
 * only, judged on the addresses a name resolves to when connecting: no request into the platform's own network
 * (an SSRF whose delivery log would read back what answered). `GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES`
 * (webhookAllowPrivateAddresses) is staging's explicit opt-in. A redirect is never followed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { registerClient } from '../clients/registration.ts';
import { translator } from '../i18n/i18n.ts';
import { LOCALES } from '../i18n/locale-resolution.ts';
import { Browser, inputValue, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { deliverDueWebhooks, webhookBackoffSeconds } from './webhook-worker.ts';
import { encryptWebhookSecret, newWebhookSecret, webhookSecretKey } from './webhook-secret.ts';

const PUBLIC_ONLY = 'url must be a public address (no localhost, private, link-local or metadata addresses)';
const HTTP_DEVELOPMENT_ONLY = 'url must use https (http only for localhost, 127.0.0.1 or [::1] on a development server)';

/** The staging server sits behind a trusted proxy that terminated TLS (as host-cookies.test.ts). */
class BehindTlsProxy extends Browser {
  override async request(url: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-proto', 'https');
    return super.request(url, { ...init, headers });
  }
}

/** A local HTTP listener that counts TCP connections (not only requests): "nothing reached it" means no connection at all. */
interface Listener { server: Server; port: number; connections: number; requests: number }
async function listener(answer: (request: IncomingMessage, response: ServerResponse) => void = (_request, response) => response.end()): Promise<Listener> {
  const server = createServer((request, response) => {
    result.requests++;
    answer(request, response);
  });
  const result: Listener = { server, port: 0, connections: 0, requests: 0 };
  server.on('connection', () => result.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  result.port = (server.address() as { port: number }).port;
  return result;
}
const closeListener = (open: Listener) => new Promise((resolve) => open.server.close(resolve));

/** A developer signed in to the portal of `server` (behind its TLS proxy) with a client of their own: its webhook page. */
async function portalWebhookPage(server: TestServer): Promise<{ browser: Browser; page: string; clientId: string }> {
  const { client: { clientId } } = await registerClient({ storage: server.storage, environment: 'staging', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
    { clientName: 'Fjord Books', clientType: 'confidential', redirectUris: ['https://fjord.example/callback'], scopes: ['users:read'] }, {},
    { actor: `user:${seed.developer.id}`, ownerUserId: seed.developer.id });
  const browser = new BehindTlsProxy();
  const login = await browser.get(`${server.url}/portal`);
  const signedIn = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/portal', email: seed.developer.email, password: seed.developer.password });
  assert.equal(signedIn.status, 303);
  return { browser, page: `${server.url}/portal/clients/${clientId}/webhook`, clientId };
}

/** The URL field's hint on the webhook page in each language (Accept-Language), as each catalogue words it. */
async function urlHints(browser: Browser, page: string): Promise<Record<string, string | undefined>> {
  const hints: Record<string, string | undefined> = {};
  for (const locale of LOCALES) {
    const answer = await browser.request(page, { headers: { 'accept-language': locale } });
    assert.equal(answer.status, 200, locale);
    hints[locale] = /<div class="muted" id="url-hint">([^<]*)<\/div>/.exec(answer.text)?.[1]?.replaceAll('&#39;', "'");
  }
  return hints;
}
const catalogueHints = (key: 'webhook.urlHint' | 'webhook.urlHintPrivateAllowed') => Object.fromEntries(LOCALES.map((locale) => [locale, translator(locale).t(key)]));

describe('webhooks in staging: public addresses only (issue 15 §5)', () => {
  const tokenHmacKey = randomBytes(32);
  let server: TestServer;
  let adminToken: string;

  const admin = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${server.url}/admin/v1${path}`, {
      method, headers: { authorization: `Bearer ${adminToken}`, 'x-forwarded-proto': 'https', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };

  before(async () => {
    server = await startTestServer({ environment: 'staging', issuer: 'https://auth.example', trustProxy: '127.0.0.1', tokenHmacKey });
    adminToken = (await createAdminToken(server.storage, 'ops-alice', server.clock.nowSeconds())).token;
  });
  after(() => server.close());

  it('the admin API refuses a webhook URL into the platform\'s network: 400 invalid_request naming the field, nothing stored or audited', async () => {
    for (const [url, description] of [
      ['https://10.0.0.5/', PUBLIC_ONLY], ['https://169.254.169.254/latest/meta-data/', PUBLIC_ONLY], ['https://[::ffff:10.0.0.5]/hooks', PUBLIC_ONLY],
      ['https://localhost/hooks', PUBLIC_ONLY], ['https://[fd00::1]/hooks', PUBLIC_ONLY], ['http://localhost:6379/', HTTP_DEVELOPMENT_ONLY], ['http://127.0.0.1:8080/hooks', HTTP_DEVELOPMENT_ONLY],
    ]) {
      const refused = await admin('PUT', `/clients/${seed.confidentialClient.id}/webhook`, { url });
      assert.equal(refused.status, 400, url);
      const { request_id: requestId, ...answer } = refused.json;
      assert.deepEqual(answer, { error: 'invalid_request', error_description: description, field: 'url' }, url);
      assert.equal(typeof requestId, 'string');
    }
    assert.equal(await server.storage.webhooks.findEndpoint(seed.confidentialClient.id), undefined);
    assert.deepEqual(await server.storage.audit.list({ clientId: seed.confidentialClient.id, types: ['client.webhook_set'] }), []);
    // A public host is still accepted.
    const set = await admin('PUT', `/clients/${seed.confidentialClient.id}/webhook`, { url: 'https://hooks.partner.example/gatehouse' });
    assert.equal(set.status, 200);
    assert.equal((await admin('DELETE', `/clients/${seed.confidentialClient.id}/webhook`)).status, 204);
  });

  it('the portal refuses it beside the field with the same wording (400), keeping what was typed, and stores nothing', async () => {
    const { client: { clientId } } = await registerClient({ storage: server.storage, environment: 'staging', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { clientName: 'Fjord Books', clientType: 'confidential', redirectUris: ['https://fjord.example/callback'], scopes: ['users:read'] }, {},
      { actor: `user:${seed.developer.id}`, ownerUserId: seed.developer.id });
    const browser = new BehindTlsProxy();
    const login = await browser.get(`${server.url}/portal`);
    const signedIn = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/portal', email: seed.developer.email, password: seed.developer.password });
    assert.equal(signedIn.status, 303);
    const page = `${server.url}/portal/clients/${clientId}/webhook`;
    const csrf = inputValue((await browser.get(page)).text, '_csrf')!;
    for (const [url, description] of [['https://10.0.0.5/', PUBLIC_ONLY], ['https://169.254.169.254/latest/meta-data/', PUBLIC_ONLY], ['http://localhost:6379/', HTTP_DEVELOPMENT_ONLY]]) {
      const refused = await browser.request(page, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams([['_csrf', csrf], ['url', url], ['event_types', 'grant.revoked']]),
      });
      assert.equal(refused.status, 400, url);
      assert.ok(refused.text.includes(`<p class="field-error" id="url-error">${description.replace(/^url /, '')}</p>`), `${url}: ${refused.text.slice(0, 200)}`);
      assert.ok(refused.text.includes(`value="${url}"`), 'what was typed is kept');
    }
    assert.equal(await server.storage.webhooks.findEndpoint(clientId), undefined);
  });

  it('the portal\'s hint beside the URL field says public addresses only, in every language (what this server accepts)', async () => {
    const { browser, page } = await portalWebhookPage(server);
    const hints = await urlHints(browser, page);
    assert.deepEqual(hints, catalogueHints('webhook.urlHint'));
    assert.match(hints.en!, /^https, to a public address: this server does not deliver to localhost, private, link-local or metadata addresses\./);
  });

  it('a delivery to a name that resolves to a loopback address (or to such a literal) is not made: the listener sees no connection; the attempt fails with status 0 and is retried later', async () => {
    const receiver = await listener();
    try {
      const now = server.clock.nowSeconds();
      // Stored as a URL accepted before this rule (or by a name later rebound) would be: the delivery is what must refuse it.
      for (const [clientId, url] of [[seed.confidentialClient.id, `http://localhost:${receiver.port}/hooks`], [seed.publicClient.id, `http://127.0.0.1:${receiver.port}/hooks`]] as const) {
        await server.storage.webhooks.setEndpoint({ clientId, url, secretCiphertext: encryptWebhookSecret(webhookSecretKey(tokenHmacKey), clientId, newWebhookSecret()), createdAt: now });
        await server.storage.webhooks.enqueue({
          deliveryId: `msg_staging_${clientId}`, clientId, eventType: 'client.suspended', payload: JSON.stringify({ type: 'client.suspended', data: { client_id: clientId } }),
          createdAt: now, attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
        });
      }
      const options = { storage: server.storage, clock: server.clock, secretKey: webhookSecretKey(tokenHmacKey), environment: 'staging' as const };
      assert.deepEqual(await deliverDueWebhooks(options), { attempted: 2, delivered: 0 });
      assert.equal(receiver.connections, 0, 'no connection reached the listener');
      for (const clientId of [seed.confidentialClient.id, seed.publicClient.id]) {
        const logged = (await server.storage.webhooks.list(clientId, 10)).find((delivery) => delivery.deliveryId === `msg_staging_${clientId}`)!;
        assert.deepEqual([logged.attempts, logged.lastStatus, logged.nextAttemptAt, logged.deliveredAt], [1, 0, now + webhookBackoffSeconds(1), null], clientId);
      }

      // The operator's opt-in (staging only) reaches it, so the refusal above was the rule, not an absent receiver.
      await server.storage.webhooks.removeEndpoint(seed.confidentialClient.id);
      server.clock.advanceSeconds(webhookBackoffSeconds(1));
      assert.deepEqual(await deliverDueWebhooks({ ...options, allowPrivateAddresses: true }), { attempted: 2, delivered: 1 });
      assert.equal(receiver.requests, 1);
    } finally {
      await server.storage.webhooks.removeEndpoint(seed.confidentialClient.id);
      await server.storage.webhooks.removeEndpoint(seed.publicClient.id);
      await closeListener(receiver);
    }
  });

  it('production ignores the opt-in: a delivery to a loopback address is not made', async () => {
    const receiver = await listener();
    try {
      const now = server.clock.nowSeconds();
      const clientId = seed.confidentialClient.id;
      await server.storage.webhooks.setEndpoint({ clientId, url: `http://127.0.0.1:${receiver.port}/hooks`, secretCiphertext: encryptWebhookSecret(webhookSecretKey(tokenHmacKey), clientId, newWebhookSecret()), createdAt: now });
      await server.storage.webhooks.enqueue({
        deliveryId: 'msg_production_opt_in', clientId, eventType: 'client.suspended', payload: '{"type":"client.suspended"}',
        createdAt: now, attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
      });
      assert.deepEqual(await deliverDueWebhooks({ storage: server.storage, clock: server.clock, secretKey: webhookSecretKey(tokenHmacKey), environment: 'production', allowPrivateAddresses: true }),
        { attempted: 1, delivered: 0 });
      assert.equal(receiver.connections, 0);
    } finally {
      await server.storage.webhooks.removeEndpoint(seed.confidentialClient.id);
      await closeListener(receiver);
    }
  });

  it('a redirect is not followed (even where private targets are allowed): the 3xx is the failed attempt\'s status, its Location gets no connection', async () => {
    const target = await listener();
    const redirecting = await listener((_request, response) => {
      response.writeHead(307, { location: `http://127.0.0.1:${target.port}/internal` });
      response.end();
    });
    try {
      const now = server.clock.nowSeconds();
      const clientId = seed.confidentialClient.id;
      await server.storage.webhooks.setEndpoint({ clientId, url: `http://127.0.0.1:${redirecting.port}/hooks`, secretCiphertext: encryptWebhookSecret(webhookSecretKey(tokenHmacKey), clientId, newWebhookSecret()), createdAt: now });
      await server.storage.webhooks.enqueue({
        deliveryId: 'msg_redirected', clientId, eventType: 'client.suspended', payload: '{"type":"client.suspended"}',
        createdAt: now, attempts: 0, nextAttemptAt: now, lastAttemptAt: null, lastStatus: null, deliveredAt: null,
      });
      assert.deepEqual(await deliverDueWebhooks({ storage: server.storage, clock: server.clock, secretKey: webhookSecretKey(tokenHmacKey), environment: 'staging', allowPrivateAddresses: true }),
        { attempted: 1, delivered: 0 });
      assert.equal(redirecting.requests, 1);
      assert.equal(target.connections, 0, 'the Location was not requested');
      const logged = (await server.storage.webhooks.list(clientId, 10)).find((delivery) => delivery.deliveryId === 'msg_redirected')!;
      assert.deepEqual([logged.attempts, logged.lastStatus, logged.deliveredAt], [1, 307, null]);
    } finally {
      await server.storage.webhooks.removeEndpoint(seed.confidentialClient.id);
      await closeListener(target);
      await closeListener(redirecting);
    }
  });
});

describe('webhooks in staging with GATEHOUSE_WEBHOOK_ALLOW_PRIVATE_ADDRESSES (webhookAllowPrivateAddresses)', () => {
  it('the admin API accepts a private https URL and loopback http, as development does', async () => {
    const server = await startTestServer({ environment: 'staging', issuer: 'https://auth.example', trustProxy: '127.0.0.1', webhookAllowPrivateAddresses: true });
    try {
      const adminToken = (await createAdminToken(server.storage, 'ops-alice', server.clock.nowSeconds())).token;
      for (const url of ['https://10.0.0.5/hooks', 'http://localhost:8080/hooks']) {
        const response = await fetch(`${server.url}/admin/v1/clients/${seed.confidentialClient.id}/webhook`, {
          method: 'PUT', headers: { authorization: `Bearer ${adminToken}`, 'x-forwarded-proto': 'https', 'content-type': 'application/json' }, body: JSON.stringify({ url }),
        });
        assert.equal(response.status, 200, url);
        assert.equal((await server.storage.webhooks.findEndpoint(seed.confidentialClient.id))?.url, url);
      }
    } finally {
      await server.close();
    }
  });

  it('the portal\'s URL hint says so (private networks, loopback http), in every language, and the portal accepts such a URL', async () => {
    const server = await startTestServer({ environment: 'staging', issuer: 'https://auth.example', trustProxy: '127.0.0.1', webhookAllowPrivateAddresses: true });
    try {
      const { browser, page, clientId } = await portalWebhookPage(server);
      const hints = await urlHints(browser, page);
      assert.deepEqual(hints, catalogueHints('webhook.urlHintPrivateAllowed'));
      assert.equal(hints.en, 'https to any address, private networks included on this server, or http on localhost, 127.0.0.1 or [::1]. Saving a new URL issues a new signing secret.');
      // What the hint promises is what the form takes.
      const csrf = inputValue((await browser.get(page)).text, '_csrf')!;
      for (const url of ['https://10.0.0.5/hooks', 'http://localhost:8080/hooks']) {
        const saved = await browser.request(page, {
          method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams([['_csrf', csrf], ['url', url], ['event_types', 'grant.revoked']]),
        });
        assert.equal(saved.status, 303, url);
        assert.equal((await server.storage.webhooks.findEndpoint(clientId))?.url, url);
      }
    } finally {
      await server.close();
    }
  });

  it('is refused in production at start', async () => {
    // Closed if it did start, so a failure here leaves no server running.
    const started = startTestServer({ environment: 'production', issuer: 'https://auth.example', webhookAllowPrivateAddresses: true });
    await assert.rejects(started.then(async (running) => {
      await running.close();
      return running;
    }),
      /^Error: webhookAllowPrivateAddresses is refused in production: partner webhooks there reach public addresses only/);
  });
});
