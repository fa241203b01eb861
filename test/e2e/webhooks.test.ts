/**
 * End to end (issue 15 §5): a partner developer sets a webhook URL in the developer portal in Chromium
 * (a refused http URL is marked beside the field and keeps what was typed; the signing secret is shown
 * once with a copy button), an end user disconnects the app on the connected apps page, and the
 * developer sees the delivery in the portal's log while a real receiver on 127.0.0.1 got the Standard
 * Webhooks-signed `grant.revoked`, verified with the SDK's `verifyWebhook`; "Send again" sends it once
 * more under the same webhook-id. axe-core finds no WCAG 2.x A/AA violation on the webhook pages at
 * 1280 px and 390 px.
 *
 * Deliveries run with `deliverDueWebhooks` on the server's injected clock (what the worker runs every
 * 5 s in main.ts), so the test never sleeps.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it, mock } from 'node:test';
import type { Browser } from 'playwright-core';
import { verifyWebhook } from '../../packages/client/src/index.ts';
import { registerClient } from '../../packages/authorization-server/src/clients/registration.ts';
import { authorize, basic, postForm, seed, startTestServer, type TestServer } from '../../packages/authorization-server/src/testing/harness.ts';
import { deliverDueWebhooks } from '../../packages/authorization-server/src/webhooks/webhook-worker.ts';
import { webhookSecretKey } from '../../packages/authorization-server/src/webhooks/webhook-secret.ts';
import { assertAccessible } from './axe.ts';
import { chromiumSkipReason, launchChromium, logIn } from './chromium.ts';




interface Received { headers: Record<string, string>; body: string }

describe('end to end: webhook set in the portal → user disconnects → delivery in the log and at the receiver (Chromium)', { skip: chromiumSkipReason }, () => {
  const tokenHmacKey = randomBytes(32);
  let server: TestServer;
  let browser: Browser;
  let receiver: Server;
  let hookUrl: string;
  const received: Received[] = [];

  before(async () => {
    server = await startTestServer({ tokenHmacKey });
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ headers: request.headers as Record<string, string>, body });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks/gatehouse`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => receiver?.close(resolve));
    await server?.close();
  });

  it('sets the webhook in the portal, and a Disconnect shows up in the delivery log and at the receiver, signed', async () => {
    // The developer's client (registered as the portal does, owned by the seed developer) and a user's grant for it.
    const redirectUri = 'http://localhost:8080/callback';
    const { client, clientSecret } = await registerClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { clientName: 'Fjord Books', clientType: 'confidential', redirectUris: [redirectUri], scopes: ['users:read', 'vendors:read'] }, {},
      { actor: `user:${seed.developer.id}`, ownerUserId: seed.developer.id });
    const { redirect, codeVerifier } = await authorize(server, { clientId: client.clientId, redirectUri, subject: `urn:gatehouse:company:${seed.companies[0].id}` });
    const exchange = await postForm(`${server.url}/oauth/token`, {
      grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: codeVerifier,
    }, { authorization: basic(client.clientId, clientSecret!) });
    assert.equal(exchange.status, 200, exchange.text);
    const grant = (await server.storage.grants.listActive({ clientId: client.clientId }))[0]!;

    // 1. The developer, in the portal: the client page links to Webhooks; an http URL is refused beside the field.
    const developerContext = await browser.newContext({ bypassCSP: true }); // only so axe can be injected
    const portal = await developerContext.newPage();
    await portal.goto(`${server.url}/portal/clients/${client.clientId}`);
    await logIn(portal, seed.developer);
    await portal.getByRole('link', { name: 'Webhooks' }).click();
    await portal.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await assertAccessible(portal, 'webhook page (none set)');
    await portal.getByLabel('Webhook URL').fill('http://partner.example/hooks');
    await portal.getByRole('button', { name: 'Save webhook' }).click();
    await portal.locator('#url-error').waitFor();
    assert.match(await portal.textContent('#url-error') ?? '', /must use https/);
    assert.equal(await portal.inputValue('#url'), 'http://partner.example/hooks', 'what was typed is kept');
    assert.equal(await portal.getAttribute('#url', 'aria-invalid'), 'true');
    assert.equal(await server.storage.webhooks.findEndpoint(client.clientId), undefined, 'nothing stored');
    await assertAccessible(portal, 'webhook page with a refused URL');

    await portal.getByLabel('Webhook URL').fill(hookUrl);
    await portal.getByRole('button', { name: 'Save webhook' }).click();
    await portal.locator('#webhook_secret').waitFor();
    const secret = (await portal.textContent('#webhook_secret'))!.trim();
    assert.match(secret, /^whsec_/);
    assert.ok(await portal.getByRole('button', { name: 'Copy the signing secret' }).isVisible());
    await assertAccessible(portal, 'webhook page with the new secret');
    await portal.reload();
    assert.equal(await portal.locator('#webhook_secret').count(), 0, 'the secret is shown only once');

    // 2. The end user disconnects the app.
    const userContext = await browser.newContext();
    const account = await userContext.newPage();
    await account.goto(`${server.url}/account/connected-apps`);
    await logIn(account, seed.users.alice);
    await account.locator(`section[data-grant-id="${grant.grantId}"]`).getByRole('button', { name: /^Disconnect Fjord Books from/ }).click();
    await account.getByRole('button', { name: 'Disconnect', exact: true }).click();
    await account.getByText(/Fjord Books was disconnected/).waitFor();
    await userContext.close();

    // 3. The worker's run delivers it to the receiver, signed; verifyWebhook accepts it.
    const deliver = () => deliverDueWebhooks({ storage: server.storage, clock: server.clock, secretKey: webhookSecretKey(tokenHmacKey), environment: 'development' });
    assert.deepEqual(await deliver(), { attempted: 1, delivered: 1 });
    assert.equal(received.length, 1);
    mock.timers.enable({ apis: ['Date'], now: server.clock.nowSeconds() * 1000 });
    let event;
    try {
      event = verifyWebhook(received[0]!.body, received[0]!.headers, secret);
    } finally {
      mock.timers.reset();
    }
    assert.deepEqual(event.data, { grant_id: grant.grantId, client_id: client.clientId, subject_urn: `urn:gatehouse:company:${seed.companies[0].id}`, reason: 'user_disconnected' });

    // 4. The developer sees it in the log, delivered, and sends it again.
    await portal.reload();
    const row = portal.locator('tr.delivery[data-event-type="grant.revoked"]');
    assert.equal(await row.count(), 1);
    assert.equal((await row.locator('.delivery-status').textContent())?.trim(), 'Delivered');
    assert.match(await row.textContent() ?? '', new RegExp(received[0]!.headers['webhook-id']!));
    await assertAccessible(portal, 'webhook page with the delivery log');
    await row.getByRole('button', { name: /^Send again: the grant\.revoked event of / }).click();
    await portal.getByText('The delivery is queued again').waitFor();
    assert.deepEqual(await deliver(), { attempted: 1, delivered: 1 });
    assert.equal(received.length, 2);
    assert.equal(received[1]!.headers['webhook-id'], received[0]!.headers['webhook-id'], 'the same webhook-id: the receiver deduplicates');

    // 5. Rotating the secret asks first.
    await portal.getByRole('button', { name: 'Rotate signing secret…' }).click();
    await portal.getByRole('heading', { name: 'Rotate the webhook signing secret?' }).waitFor();
    await assertAccessible(portal, 'rotation confirmation');
    await portal.getByRole('button', { name: 'Rotate secret' }).click();
    await portal.locator('#webhook_secret').waitFor();
    assert.notEqual((await portal.textContent('#webhook_secret'))!.trim(), secret);
    await developerContext.close();
  });
});
