/**
 * Issue 15 §5, the portal's webhook page over HTTP: only the client's own developer reaches it, every form
 * needs its CSRF token, refused fields keep their input, the secret is shown once and only if it is the
 * client's current one, removal asks first, and "Send again" only reaches the client's own deliveries.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerClient } from '../clients/registration.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import { Browser, inputValue, languageSwitchForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';

async function signedIn(server: TestServer, user: { email: string; password: string } = seed.developer): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${server.url}/portal`);
  const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/portal', email: user.email, password: user.password });
  assert.equal(answer.status, 303);
  return browser;
}

const form = (browser: Browser, url: string, fields: [string, string][]) =>
  browser.request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });

const secretOn = (page: string) => /<code id="webhook_secret"[^>]*>(whsec_[^<]+)<\/code>/.exec(page)?.[1];

describe('developer portal: webhooks (issue 15 §5)', () => {
  let server: TestServer;
  let clientId: string;
  let page: string;
  let browser: Browser;

  before(async () => {
    server = await startTestServer();
    ({ client: { clientId } } = await registerClient({ storage: server.storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
      { clientName: 'Fjord Books', clientType: 'confidential', redirectUris: ['http://localhost:8080/callback'], scopes: ['users:read'] }, {},
      { actor: `user:${seed.developer.id}`, ownerUserId: seed.developer.id }));
    browser = await signedIn(server);
    page = `${server.url}/portal/clients/${clientId}/webhook`;
  });
  after(() => server.close());

  it('refuses a missing URL and unticked events beside each field, keeping the input, and stores nothing', async () => {
    const csrf = inputValue((await browser.get(page)).text, '_csrf')!;
    const refused = await form(browser, page, [['_csrf', csrf], ['url', 'ftp://fjord.example/hooks']]);
    assert.equal(refused.status, 400);
    assert.match(refused.text, /<p class="field-error" id="url-error">must use https/);
    assert.match(refused.text, /id="url"[^>]*value="ftp:\/\/fjord\.example\/hooks"[^>]*aria-describedby="url-hint url-error" aria-invalid="true"/);
    assert.match(refused.text, /<p class="field-error" id="event_types-error">Choose at least one event/);
    assert.equal(await server.storage.webhooks.findEndpoint(clientId), undefined);
  });

  it('a done= the page does not know shows no notice: not the text of an Object.prototype member (constructor, toString)', async () => {
    for (const done of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      const shown = await browser.get(`${page}?done=${done}`);
      assert.equal(shown.status, 200);
      assert.doesNotMatch(shown.text, /class="notice"/, done);
      assert.doesNotMatch(shown.text, /native code|\[object Object\]/, done);
    }
  });

  it('without the CSRF token a POST is refused (403) and changes nothing', async () => {
    const response = await form(browser, page, [['url', 'https://fjord.example/hooks'], ['event_types', 'grant.revoked']]);
    assert.equal(response.status, 403);
    assert.equal(await server.storage.webhooks.findEndpoint(clientId), undefined);
  });

  it('saves URL and events, shows the secret once, changes events without a new secret, and shows no planted secret', async () => {
    const csrf = inputValue((await browser.get(page)).text, '_csrf')!;
    const saved = await form(browser, page, [['_csrf', csrf], ['url', 'https://fjord.example/hooks'], ['event_types', 'grant.revoked'], ['event_types', 'client.deleted']]);
    assert.equal(saved.status, 303);
    const endpoint = await server.storage.webhooks.findEndpoint(clientId);
    assert.deepEqual(endpoint?.eventTypes, ['grant.revoked', 'client.deleted']);
    const shown = await browser.get(`${server.url}${saved.location}`);
    const secret = secretOn(shown.text);
    assert.match(secret ?? '', /^whsec_/);
    assert.equal(secretOn((await browser.get(page)).text), undefined, 'shown once');

    const csrf2 = inputValue(shown.text, '_csrf')!;
    const all = await form(browser, page, [['_csrf', csrf2], ['url', 'https://fjord.example/hooks'],
      ...['grant.revoked', 'client.suspended', 'client.reactivated', 'client.deleted'].map((type): [string, string] => ['event_types', type])]);
    assert.equal(all.status, 303);
    const after = await server.storage.webhooks.findEndpoint(clientId);
    assert.equal(after?.eventTypes, null, 'all ticked: every event, also ones added later');
    assert.equal(after?.secretCiphertext, endpoint?.secretCiphertext, 'the same URL keeps the secret');
    assert.equal(secretOn((await browser.get(`${server.url}${all.location}`)).text), undefined);

    // A cookie set by someone else (say, a sibling subdomain) cannot put text on the page as a "secret".
    browser.cookies.set('gatehouse_new_webhook_secret', encodeURIComponent(`whsec_${'A'.repeat(43)}=`));
    assert.equal(secretOn((await browser.get(page)).text), undefined);
  });

  it('another developer (or a non-developer) cannot see or change the webhook: 404 / 403, nothing changes', async () => {
    const other = await signedIn(server, seed.users.alice);
    assert.equal((await other.get(page)).status, 403, 'alice is not a partner developer');
    await server.storage.developers.add(seed.users.alice.id);
    const seen = await other.get(page);
    assert.equal(seen.status, 404);
    const csrf = inputValue(seen.text, '_csrf')!;
    assert.equal((await form(other, page, [['_csrf', csrf], ['url', 'https://evil.example/hooks'], ['event_types', 'grant.revoked']])).status, 404);
    assert.equal((await form(other, `${page}/remove`, [['_csrf', csrf], ['confirm', 'yes']])).status, 404);
    assert.equal((await server.storage.webhooks.findEndpoint(clientId))?.url, 'https://fjord.example/hooks');
    await server.storage.developers.remove(seed.users.alice.id);
  });

  it("the rotation's and the removal's language switch show each confirmation again in French and change nothing, confirm=yes or not", async () => {
    const mine = await signedIn(server); // its own browser: the language chosen stays with it
    const csrf = inputValue((await mine.get(page)).text, '_csrf')!;
    if (!(await server.storage.webhooks.findEndpoint(clientId))) {
      assert.equal((await form(mine, page, [['_csrf', csrf], ['url', 'https://fjord.example/hooks'], ['event_types', 'grant.revoked']])).status, 303);
    }
    const stored = await server.storage.webhooks.findEndpoint(clientId);
    assert.ok(stored);
    for (const [path, heading] of [[`${page}/secret`, 'Renouveler le secret de signature du webhook ?'], [`${page}/remove`, 'Supprimer le webhook ?']] as const) {
      const confirmation = await form(mine, path, [['_csrf', csrf]]);
      assert.equal(confirmation.status, 200);
      assert.doesNotMatch(confirmation.text, /href="\/language\?/, 'no link away from the pending confirmation');
      const toFrench = languageSwitchForm(confirmation.text, 'fr');
      assert.equal(`${server.url}${toFrench.action}`, path);
      assert.equal(toFrench.body.get('confirm'), null, 'the switch does not confirm');
      for (const fields of [[...toFrench.body], [...toFrench.body, ['confirm', 'yes']]] as [string, string][][]) {
        const french = await form(mine, path, fields);
        assert.equal(french.status, 200, 'a form with locale shows the confirmation, confirm=yes or not');
        assert.match(french.text, /<html lang="fr"/);
        assert.ok(french.text.includes(`<h1>${heading}</h1>`), heading);
        assert.equal(secretOn(french.text), undefined);
        assert.deepEqual(await server.storage.webhooks.findEndpoint(clientId), stored, 'neither rotated nor removed');
      }
    }
  });

  it('"Send again" works on the client\'s own deliveries only; removal asks first, then removes', async () => {
    const now = server.clock.nowSeconds();
    const base = { eventType: 'client.suspended', payload: '{}', createdAt: now, attempts: 8, nextAttemptAt: null, lastAttemptAt: now, lastStatus: 500, deliveredAt: null };
    await server.storage.webhooks.enqueue({ ...base, deliveryId: 'msg_own', clientId });
    await server.storage.webhooks.enqueue({ ...base, deliveryId: 'msg_theirs', clientId: seed.confidentialClient.id });
    const view = await browser.get(page);
    assert.match(view.text, /<td class="delivery-status">Gave up<\/td>/);
    const csrf = inputValue(view.text, '_csrf')!;
    assert.equal((await form(browser, `${page}/deliveries/msg_theirs/resend`, [['_csrf', csrf]])).status, 404);
    assert.equal((await server.storage.webhooks.list(seed.confidentialClient.id, 10))[0]?.nextAttemptAt, null, 'another client\'s delivery untouched');
    const resent = await form(browser, `${page}/deliveries/msg_own/resend`, [['_csrf', csrf]]);
    assert.equal(resent.status, 303);
    assert.equal((await server.storage.webhooks.list(clientId, 10))[0]?.nextAttemptAt, now);

    const asked = await form(browser, `${page}/remove`, [['_csrf', csrf]]);
    assert.equal(asked.status, 200);
    assert.match(asked.text, /Remove the webhook\?/);
    assert.ok(await server.storage.webhooks.findEndpoint(clientId), 'not removed before confirming');
    const removed = await form(browser, `${page}/remove`, [['_csrf', inputValue(asked.text, '_csrf')!], ['confirm', 'yes']]);
    assert.equal(removed.status, 303);
    assert.equal(await server.storage.webhooks.findEndpoint(clientId), undefined);
    const audit = (await server.storage.audit.list({ clientId })).map((event) => [event.type, event.actor]);
    assert.deepEqual(audit.filter(([type]) => type!.startsWith('client.webhook')).map(([type]) => type), [
      'client.webhook_removed', 'client.webhook_resent', 'client.webhook_events_set', 'client.webhook_set',
    ]);
    assert.ok(audit.every(([, actor]) => actor === `user:${seed.developer.id}`));
  });

  it('a URL with a query is shown whole on the partner\'s own page; its audit event records it with the query redacted', async () => {
    const url = 'https://fjord.example/hooks?token=portal-s3cr3t&tenant=fjord';
    const csrf = inputValue((await browser.get(page)).text, '_csrf')!;
    const saved = await form(browser, page, [['_csrf', csrf], ['url', url], ['event_types', 'grant.revoked']]);
    assert.equal(saved.status, 303);
    const shown = await browser.get(`${server.url}${saved.location}`);
    assert.match(shown.text, /id="url"[^>]*value="https:\/\/fjord\.example\/hooks\?token=portal-s3cr3t&amp;tenant=fjord"/);
    const [event] = await server.storage.audit.list({ clientId, types: ['client.webhook_set'], limit: 1 });
    assert.deepEqual(event?.details, { url: 'https://fjord.example/hooks?[redacted]', event_types: 'grant.revoked' });
    assert.ok(!JSON.stringify(await server.storage.audit.list({ clientId, limit: 100 })).includes('portal-s3cr3t'), 'no query value in the audit log');
  });
});

describe('developer portal: a client deleted while its webhook is being set', () => {
  it('answers the portal\'s "no such client" page (404), not a refusal of what was typed, and sets nothing', async () => {
    // The handler reads the stored webhook after its ownership check and before setting it: the client is deleted there
    // (by a teammate or an administrator, meanwhile). Hooked before the server wraps the storage.
    const storage = createSqliteStorage(':memory:');
    let doomedId = '';
    const findEndpoint = storage.webhooks.findEndpoint;
    storage.webhooks.findEndpoint = async (id) => {
      if (id === doomedId) {
        const now = server.clock.nowSeconds();
        await storage.clients.changeStatus(id, { status: 'deleted', now, auditEvent: () => ({ type: 'client.deleted', at: now, actor: 'admin:test', clientId: id }) });
      }
      return findEndpoint.call(storage.webhooks, id);
    };
    const server = await startTestServer({ storage });
    try {
      ({ client: { clientId: doomedId } } = await registerClient({ storage, environment: 'development', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { clientName: 'Fjord Doomed', clientType: 'confidential', redirectUris: ['http://localhost:8080/callback'], scopes: ['users:read'] }, {},
        { actor: `user:${seed.developer.id}`, ownerUserId: seed.developer.id }));
      const browser = await signedIn(server);
      const page = `${server.url}/portal/clients/${doomedId}/webhook`;
      // The page itself reads the stored webhook too: its form's CSRF token comes from the client page instead.
      const csrf = inputValue((await browser.get(`${server.url}/portal/clients/${doomedId}`)).text, '_csrf')!;
      const answer = await form(browser, page, [['_csrf', csrf], ['url', 'https://fjord.example/doomed'], ['event_types', 'grant.revoked']]);
      assert.equal(answer.status, 404);
      assert.match(answer.text, /<h1>No such client<\/h1>/);
      assert.doesNotMatch(answer.text, /Choose at least one event|field-error/, 'not a refusal of what was typed');
      assert.equal((await storage.clients.find(doomedId))?.status, 'deleted');
      assert.equal(await findEndpoint.call(storage.webhooks, doomedId), undefined, 'nothing set');
      assert.deepEqual((await storage.audit.list({ clientId: doomedId })).map((event) => event.type).filter((type) => type.startsWith('client.webhook')), []);
    } finally {
      await server.close();
    }
  });
});
