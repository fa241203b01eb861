import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../users/password.ts';
import { authorize, basic, Browser, inputValue, languageSwitchForm, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { pngImage, svgImage } from '../testing/images.ts';

const developer = seed.developer;

/** A browser signed in to the portal through the shared login page (return_to=/portal). */
async function signedIn(server: TestServer, user: { email: string; password: string } = developer): Promise<Browser> {
  const browser = new Browser();
  const login = await browser.get(`${server.url}/portal`);
  assert.equal(login.status, 200);
  assert.equal(inputValue(login.text, 'return_to'), '/portal');
  const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: '/portal', email: user.email, password: user.password });
  assert.equal(answer.status, 303);
  assert.equal(answer.location, '/portal');
  return browser;
}

function registrationForm(csrf: string, fields: Record<string, string | string[]> = {}, logo?: Buffer): FormData {
  const form = new FormData();
  const values: Record<string, string | string[]> = {
    _csrf: csrf, client_name: 'Fjord Books', token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: 'http://localhost:8080/callback\nhttps://fjord.example/oauth/callback', scope: ['users:read', 'vendors:read'], subject_type: 'company',
    client_uri: 'https://fjord.example', tos_uri: 'https://fjord.example/terms', policy_uri: 'https://fjord.example/privacy',
    initiation_uri: 'https://fjord.example/connect', settings_uri: 'https://fjord.example/settings', contacts: 'dev@fjord.example\nsupport@fjord.example',
    ...fields,
  };
  for (const [name, value] of Object.entries(values)) for (const item of Array.isArray(value) ? value : [value]) form.append(name, item);
  if (logo) form.append('logo', new Blob([new Uint8Array(logo)], { type: 'image/png' }), 'logo.png');
  return form;
}

async function register(server: TestServer, browser: Browser, fields: Record<string, string | string[]> = {}, logo?: Buffer) {
  const form = await browser.get(`${server.url}/portal/clients/new`);
  assert.equal(form.status, 200);
  return browser.request(`${server.url}/portal/clients`, { method: 'POST', body: registrationForm(inputValue(form.text, '_csrf')!, fields, logo) });
}

const secretOn = (page: string) => /<code id="client_secret"[^>]*>([A-Za-z0-9_-]{43})<\/code>/.exec(page)?.[1];
/** The field is marked refused beside itself: aria-invalid, and aria-describedby naming its message. */
const fieldRefused = (page: string, name: string) =>
  new RegExp(`id="${name}"[^>]*aria-describedby="[^"]*${name}-error[^"]*"[^>]*aria-invalid="true"`).test(page) && page.includes(`<p class="field-error" id="${name}-error">`);
/** The fieldset of scopes is refused (a fieldset cannot be aria-invalid: it names its message). */
const scopesRefused = (page: string) => /<fieldset id="scope-fieldset" aria-describedby="scope-error"/.test(page);

describe('developer portal /portal', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('signs a partner developer in with the shared login page and lists only its clients', async () => {
    const browser = await signedIn(server);
    const home = await browser.get(`${server.url}/portal`);
    assert.equal(home.status, 200);
    assert.match(home.text, /Your OAuth 2\.0 clients/);
    assert.doesNotMatch(home.text, /Ledgerly Sync/, 'the demo clients are the administrator\'s, not this partner\'s');
  });

  it('refuses a signed-in user who is not a partner developer (403)', async () => {
    const browser = await signedIn(server, seed.users.alice);
    const home = await browser.get(`${server.url}/portal`);
    assert.equal(home.status, 403);
    assert.match(home.text, /Not a partner developer/);
  });

  it('registers a client with every field and a logo, shows the secret once (a reload does not), and the secret works', async () => {
    const browser = await signedIn(server);
    const created = await register(server, browser, {}, pngImage(256, 256));
    assert.equal(created.status, 303, created.text.slice(0, 500));
    const clientId = /^\/portal\/clients\/([0-9a-f-]{36})$/.exec(created.location!)?.[1];
    assert.ok(clientId, created.location);
    const first = await browser.get(`${server.url}${created.location}`);
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('cache-control'), 'no-store');
    const secret = secretOn(first.text);
    assert.ok(secret, 'the secret is shown after registration');
    const reload = await browser.get(`${server.url}${created.location}`);
    assert.equal(secretOn(reload.text), undefined, 'a reload does not show the secret again');

    const client = (await server.storage.clients.find(clientId!))!;
    assert.equal(client.ownerUserId, developer.id);
    assert.equal(client.initiationUri, 'https://fjord.example/connect');
    assert.equal(client.settingsUri, 'https://fjord.example/settings');
    assert.deepEqual(client.contacts, ['dev@fjord.example', 'support@fjord.example']);
    assert.deepEqual(client.redirectUris, ['http://localhost:8080/callback', 'https://fjord.example/oauth/callback']);
    assert.deepEqual(client.scopes, ['users:read', 'vendors:read']);
    assert.match(client.logoUri!, new RegExp(`/logos/${clientId}\\?v=`));
    assert.match(reload.text, new RegExp(`<img class="logo" src="${client.logoUri!.replace(/[?.]/g, '\\$&')}"`));
    const logo = await fetch(client.logoUri!);
    assert.equal(logo.headers.get('content-type'), 'image/png');
    // Development approves at once (SPEC decision 13), so the credentials work right away.
    const introspection = await postForm(`${server.url}/oauth/token/introspect`, { token: 'x' }, { authorization: basic(clientId!, secret!) });
    assert.equal(introspection.status, 200);
    const events = await server.storage.audit.list({ limit: 5 });
    assert.ok(events.some((event) => event.type === 'client.registered' && event.actor === `user:${developer.id}`));
    assert.ok(!JSON.stringify(await server.storage.audit.list({ limit: 1000 })).includes(secret!));
  });

  it('refuses bad fields naming them, keeps the typed values, and stores nothing for a refused logo', async () => {
    const browser = await signedIn(server);
    const before = (await server.storage.clients.listByOwner(developer.id)).length;
    for (const [fields, logo, name] of [
      [{ client_name: 'Gatehouse Connector' }, undefined, 'client_name'],
      [{ redirect_uris: 'http://fjord.example/cb' }, undefined, 'redirect_uris'],
      [{ tos_uri: 'http://fjord.example/terms' }, undefined, 'tos_uri'],
      [{ contacts: 'not-an-address' }, undefined, 'contacts'],
      [{}, svgImage(512, 512), 'logo'],
      [{}, pngImage(512, 256), 'logo'],
    ] as const) {
      const refused = await register(server, browser, fields as Record<string, string>, logo);
      assert.equal(refused.status, 400, name);
      assert.ok(fieldRefused(refused.text, name), `${name} is marked beside the field`);
      assert.match(refused.text, /value="https:\/\/fjord\.example\/connect"/, 'typed values are kept');
    }
    assert.equal((await server.storage.clients.listByOwner(developer.id)).length, before);
  });

  it('refuses a form without its CSRF token (SPEC decision 18)', async () => {
    const browser = await signedIn(server);
    const form = registrationForm('');
    form.delete('_csrf');
    const response = await browser.request(`${server.url}/portal/clients`, { method: 'POST', body: form });
    assert.equal(response.status, 403);
    // Issue 13: a portal form never talks about "going back to the app"; it offers a way onward.
    assert.doesNotMatch(response.text, /Go back to the app|sent back to the application/);
    assert.match(response.text, /<a href="\/portal">Open the page again<\/a>/);
  });

  it('links an expired form back to the page it was sent from (its Referer, when it is this server\'s and in the same section)', async () => {
    const browser = await signedIn(server);
    const expired = async (referer: string) => {
      const form = registrationForm('');
      form.delete('_csrf');
      const response = await browser.request(`${server.url}/portal/clients`, { method: 'POST', body: form, headers: { referer } });
      assert.equal(response.status, 403);
      return /<a href="([^"]*)">Open the page again<\/a>/.exec(response.text)?.[1];
    };
    assert.equal(await expired(`${server.url}/portal/clients/new?client_id=x`), '/portal/clients/new', 'the path, never the query');
    assert.equal(await expired('https://evil.example/portal/clients/new'), '/portal', 'another origin');
    assert.equal(await expired(`${server.url}/account/sessions`), '/portal', 'another section');
    assert.equal(await expired(`${server.url}/portalx`), '/portal');
    assert.equal(await expired(`${server.url}/portal/no-such-page`), '/portal', 'a path no page answers');
    assert.equal(await expired(`${server.url}/portal/clients/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/delete`), '/portal', 'a confirmation shown by a POST: its GET only answers 405');
    assert.equal(await expired(`${server.url}/portal/clients/new?token=x`), '/portal', 'a page opened by a one-time link (its token in the query) cannot be reopened without it');
    assert.equal(await expired('not a URL'), '/portal');
  });

  it('an edit sent after the session ended says it was not saved and returns to the client\'s page after sign-in (it returned to /portal and dropped it silently)', async () => {
    const browser = await signedIn(server);
    const clientPath = (await register(server, browser)).location!;
    const clientId = clientPath.split('/').at(-1)!;
    const csrf = inputValue((await browser.get(`${server.url}${clientPath}`)).text, '_csrf')!;
    browser.cookies.delete('gatehouse_session'); // signed out in another tab
    const edit = new URLSearchParams({ _csrf: csrf, client_name: 'Fjord Books Pro', redirect_uris: 'http://localhost:8080/callback', scope: 'users:read' });
    const sent = await browser.request(`${server.url}${clientPath}`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', referer: `${server.url}${clientPath}` }, body: edit,
    });
    assert.equal(sent.status, 200);
    assert.match(sent.text, /<p class="notice" role="status">You were signed out, so your change was not saved\. Sign in, then make it again\.<\/p>/);
    assert.equal(inputValue(sent.text, 'return_to'), clientPath, 'back to the page the form was on');
    assert.equal((await server.storage.clients.find(clientId))?.clientName, 'Fjord Books', 'nothing changed');
    // A page opened with GET says nothing of the kind.
    assert.doesNotMatch((await browser.get(`${server.url}${clientPath}`)).text, /was not saved/);
  });

  it('edits, rotates (new secret once, old one during the overlap) and deletes its own client', async () => {
    const browser = await signedIn(server);
    const created = await register(server, browser);
    const clientPath = created.location!;
    const clientId = clientPath.split('/').at(-1)!;
    const oldSecret = secretOn((await browser.get(`${server.url}${clientPath}`)).text)!;
    const page = await browser.get(`${server.url}${clientPath}`);
    const csrf = inputValue(page.text, '_csrf')!;

    const edit = new URLSearchParams({ _csrf: csrf, client_name: 'Fjord Books Pro', redirect_uris: 'http://localhost:8080/callback', subject_type: '', contacts: 'ops@fjord.example' });
    edit.append('scope', 'accounts:read');
    const saved = await browser.request(`${server.url}${clientPath}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: edit });
    assert.equal(saved.status, 303);
    // The page it comes back to says the change was made (it came back to the top of the same page, silently).
    const afterSave = await browser.get(`${server.url}${saved.location}`);
    assert.equal(afterSave.status, 200);
    assert.match(afterSave.text, /<p class="notice" role="status">Changes saved\.<\/p>/);
    assert.doesNotMatch((await browser.get(`${server.url}${clientPath}`)).text, /class="notice"/, 'only after a save');
    assert.doesNotMatch((await browser.get(`${server.url}${clientPath}?done=constructor`)).text, /class="notice"/, 'only for an action\'s own name');
    const client = (await server.storage.clients.find(clientId))!;
    assert.equal(client.clientName, 'Fjord Books Pro');
    assert.deepEqual(client.scopes, ['accounts:read']);
    assert.equal(client.tosUri, null);
    // Sent from the client's page, as a browser sends it (Referrer-Policy same-origin).
    const badEdit = await browser.request(`${server.url}${clientPath}`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', referer: `${server.url}${clientPath}` },
      body: new URLSearchParams({ _csrf: csrf, client_name: 'Fjord', redirect_uris: 'https://fjord.example/*', scope: 'users:read' }),
    });
    assert.equal(badEdit.status, 400);
    assert.ok(fieldRefused(badEdit.text, 'redirect_uris'));
    // The language switch of a page answering a POST comes back to the page that answers a GET (issue 13), not to /.
    assert.ok(badEdit.text.includes(`${new URLSearchParams({ return_to: clientPath })}"`), 'the switch returns to the client\'s page');


    const rotated = await browser.post(`${server.url}${clientPath}/secret`, { _csrf: csrf, overlap_seconds: '3600' });
    assert.equal(rotated.status, 303);
    const newSecret = secretOn((await browser.get(`${server.url}${clientPath}`)).text);
    assert.ok(newSecret && newSecret !== oldSecret);
    assert.equal(secretOn((await browser.get(`${server.url}${clientPath}`)).text), undefined);
    const introspectWith = (secret: string) => postForm(`${server.url}/oauth/token/introspect`, { token: 'x' }, { authorization: basic(clientId, secret) });
    assert.equal((await introspectWith(oldSecret)).status, 200, 'the old secret works during the overlap');
    assert.equal((await introspectWith(newSecret)).status, 200);

    const deleted = await browser.post(`${server.url}${clientPath}/delete`, { _csrf: csrf, confirm: 'yes' });
    assert.equal(deleted.status, 303);
    assert.equal(deleted.location, `/portal?deleted=${clientId}`);
    assert.equal((await server.storage.clients.find(clientId))?.status, 'deleted');
    // The portal says which client was deleted (it said nothing); another id, or a live client's, says nothing.
    assert.match((await browser.get(`${server.url}${deleted.location}`)).text, /<p class="notice" role="status">Fjord Books Pro was deleted: /);
    assert.doesNotMatch((await browser.get(`${server.url}/portal?deleted=${seed.confidentialClient.id}`)).text, /was deleted/);
    assert.equal((await browser.get(`${server.url}${clientPath}`)).status, 404);
  });

  it('a partner cannot see or change another partner\'s client (404, nothing changes)', async () => {
    const owner = await signedIn(server);
    const created = await register(server, owner);
    const clientPath = created.location!;
    const clientId = clientPath.split('/').at(-1)!;
    const otherId = crypto.randomUUID();
    await server.storage.users.create({ userId: otherId, email: 'other@partner.example', name: 'Olav Other', passwordHash: await hashPassword('other-demo-password') });
    await server.storage.developers.add(otherId);
    const other = await signedIn(server, { email: 'other@partner.example', password: 'other-demo-password' });
    assert.doesNotMatch((await other.get(`${server.url}/portal`)).text, /Fjord Books/);
    assert.equal((await other.get(`${server.url}${clientPath}`)).status, 404);
    const csrf = inputValue((await other.get(`${server.url}/portal/clients/new`)).text, '_csrf')!;
    for (const path of [clientPath, `${clientPath}/secret`, `${clientPath}/delete`]) {
      const response = await other.post(`${server.url}${path}`, { _csrf: csrf, client_name: 'Hijacked', redirect_uris: 'http://localhost:8080/callback', scope: 'users:read' });
      assert.equal(response.status, 404, path);
    }
    const client = (await server.storage.clients.find(clientId))!;
    assert.equal(client.clientName, 'Fjord Books');
    assert.equal(client.status, 'active');
    // Administrators' clients are nobody's in the portal either.
    assert.equal((await other.get(`${server.url}/portal/clients/${seed.confidentialClient.id}`)).status, 404);
  });

  it('continues after login only to /portal paths or authorization requests, never elsewhere (no open redirect)', async () => {
    for (const returnTo of ['//evil.example/portal', '/portal//evil.example', '/portal/../admin', 'https://evil.example/portal', '/portal?next=//evil.example', '/portal\\evil']) {
      const browser = new Browser();
      const login = await browser.get(`${server.url}/portal`);
      const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: returnTo, email: developer.email, password: developer.password });
      assert.equal(answer.status, 303);
      assert.equal(answer.location, '/', returnTo);
    }
  });

  it('continues after login at same-origin /portal, /account and /admin paths (issue 13 deep links), and never at a look-alike', async () => {
    const cases: [string, string][] = [
      ['/portal/team', '/portal/team'], ['/account', '/account'], ['/account/sessions', '/account/sessions'], ['/admin', '/admin'], ['/admin/clients', '/admin/clients'],
      ['/administrator', '/'], ['/admin/../portal', '/'], ['/admin.evil.example', '/'], ['//admin', '/'], ['/admin?next=//evil.example', '/'], ['https://evil.example/admin', '/'],
    ];
    for (const [returnTo, expected] of cases) {
      const browser = new Browser();
      const login = await browser.get(`${server.url}/portal`);
      const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: returnTo, email: developer.email, password: developer.password });
      assert.equal(answer.status, 303);
      assert.equal(answer.location, expected, returnTo);
    }
  });

  describe('pages partners use (issue 13)', () => {
    const registered = async (browser: Browser, fields: Record<string, string | string[]> = {}) => {
      const created = await register(server, browser, fields);
      assert.equal(created.status, 303, created.text.slice(0, 300));
      const clientPath = created.location!;
      const first = await browser.get(`${server.url}${clientPath}`);
      return { clientPath, clientId: clientPath.split('/').at(-1)!, secret: secretOn(first.text)!, csrf: inputValue(first.text, '_csrf')! };
    };

    it('marks every refused field at once beside the field, keeps every typed value and asks for a good logo again', async () => {
      const browser = await signedIn(server);
      const before = (await server.storage.clients.listByOwner(developer.id)).length;
      const refused = await register(server, browser, {
        client_name: 'Gatehouse Connector', redirect_uris: 'http://fjord.example/cb', tos_uri: 'http://fjord.example/terms', contacts: 'not-an-address', scope: [],
      }, pngImage(256, 256));
      assert.equal(refused.status, 400);
      for (const name of ['client_name', 'redirect_uris', 'tos_uri', 'contacts']) assert.ok(fieldRefused(refused.text, name), `${name} is marked`);
      assert.ok(scopesRefused(refused.text), 'the scopes are marked');
      assert.ok(fieldRefused(refused.text, 'logo'), 'the logo is asked for again');
      assert.match(refused.text, /choose it again/);
      assert.match(refused.text, /value="Gatehouse Connector"/);
      assert.match(refused.text, />http:\/\/fjord\.example\/cb<\/textarea>/);
      assert.match(refused.text, /value="https:\/\/fjord\.example\/connect"/);
      assert.ok(!fieldRefused(refused.text, 'client_uri'), 'a good field is not marked');
      assert.equal((await server.storage.clients.listByOwner(developer.id)).length, before, 'nothing is stored');
    });

    it('answers an oversized logo (5 MB) in the page with the form kept, not with JSON 413, and stores nothing', async () => {
      const browser = await signedIn(server);
      const before = (await server.storage.clients.listByOwner(developer.id)).length;
      const refused = await register(server, browser, {}, pngImage(256, 256, 5 * 1024 * 1024));
      assert.equal(refused.status, 400);
      assert.match(refused.headers.get('content-type')!, /^text\/html/);
      assert.ok(fieldRefused(refused.text, 'logo'));
      assert.match(refused.text, /at most 1048576 bytes/);
      assert.match(refused.text, /value="Fjord Books"/);
      assert.equal((await server.storage.clients.listByOwner(developer.id)).length, before);

      const { clientPath, clientId, csrf } = await registered(browser);
      const form = new FormData();
      form.append('_csrf', csrf);
      form.append('logo', new Blob([new Uint8Array(pngImage(256, 256, 5 * 1024 * 1024))], { type: 'image/png' }), 'logo.png');
      const upload = await browser.request(`${server.url}${clientPath}/logo`, { method: 'POST', body: form });
      assert.equal(upload.status, 400);
      assert.ok(fieldRefused(upload.text, 'logo'));
      assert.equal((await server.storage.clients.find(clientId))!.logoUri, null, 'no logo stored');
      // A good one: the page it comes back to says so.
      const good = new FormData();
      good.append('_csrf', csrf);
      good.append('logo', new Blob([new Uint8Array(pngImage(256, 256))], { type: 'image/png' }), 'logo.png');
      const uploaded = await browser.request(`${server.url}${clientPath}/logo`, { method: 'POST', body: good });
      assert.equal(uploaded.status, 303);
      assert.match((await browser.get(`${server.url}${uploaded.location}`)).text, /<p class="notice" role="status">Logo uploaded\.<\/p>/);
    });

    it('gives a partner everything to start: client ID with a copy button, issuer, metadata URL, every endpoint and setup prefilled', async () => {
      const browser = await signedIn(server);
      const { clientPath, clientId } = await registered(browser);
      const page = await browser.get(`${server.url}${clientPath}`);
      assert.match(page.text, new RegExp(`<code id="client_id"[^>]*>${clientId}</code> <button type="button" class="copy" data-copy="client_id"`));
      for (const text of [`id="issuer"[^>]*>${server.url}<`, `${server.url}/.well-known/oauth-authorization-server`, `${server.url}/oauth/authorize`,
        `${server.url}/oauth/token<`, `${server.url}/oauth/revoke`, `${server.url}/oauth/token/introspect`]) assert.match(page.text, new RegExp(text));
      // oauth4webapi and openid-client (algorithm 'oauth2', ClientSecretBasic) and curl, each prefilled with this client.
      assert.match(page.text, /import \* as oauth from &#39;oauth4webapi&#39;/);
      assert.match(page.text, /oauth\.ClientSecretBasic\(process\.env\.GATEHOUSE_CLIENT_SECRET\)/);
      assert.match(page.text, /client\.ClientSecretBasic\(process\.env\.GATEHOUSE_CLIENT_SECRET\)/);
      assert.match(page.text, /algorithm: &#39;oauth2&#39;/);
      assert.match(page.text, new RegExp(`curl -s -u &quot;${clientId}:\\$GATEHOUSE_CLIENT_SECRET&quot;`));
      assert.equal(page.text.split(clientId).length > 4, true, 'the snippets carry the client ID');
      // The copy buttons' script: portal pages alone may load it (CSP script-src 'self'), still no inline script.
      assert.match(page.headers.get('content-security-policy')!, /script-src 'self'/);
      assert.match(page.text, /<script src="\/assets\/portal\.js" defer><\/script>/);
      assert.doesNotMatch(page.text, /<script>/);
      const script = await fetch(`${server.url}/assets/portal.js`);
      assert.match(script.headers.get('content-type')!, /^text\/javascript/);
      assert.match(await script.text(), /navigator\.clipboard\.writeText/);
      const login = await fetch(`${server.url}/signed-out`);
      assert.doesNotMatch(login.headers.get('content-security-policy')!, /script-src/, 'other pages still allow no script');
    });

    it('asks for confirmation naming what will happen before deleting a client; nothing is deleted until confirmed', async () => {
      const browser = await signedIn(server);
      const { clientPath, clientId, csrf } = await registered(browser);
      const confirmation = await browser.post(`${server.url}${clientPath}/delete`, { _csrf: csrf });
      assert.equal(confirmation.status, 200);
      assert.match(confirmation.text, /<h1>Delete Fjord Books\?<\/h1>/);
      assert.match(confirmation.text, new RegExp(`The client ID ${clientId} and its secret stop working at once`));
      assert.match(confirmation.text, /Every connection is revoked now \(0 active\)/);
      assert.match(confirmation.text, /<input type="hidden" name="confirm" value="yes">/);
      assert.equal((await server.storage.clients.find(clientId))!.status, 'active', 'nothing deleted yet');
      assert.ok(!(await server.storage.audit.list({ clientId, types: ['client.deleted'] })).length);
      const deleted = await browser.post(`${server.url}${clientPath}/delete`, { _csrf: inputValue(confirmation.text, '_csrf')!, confirm: 'yes' });
      assert.equal(deleted.status, 303);
      assert.equal((await server.storage.clients.find(clientId))!.status, 'deleted');
    });

    it('asks for confirmation before rotating with "disconnect every user"; nothing rotates or is revoked until confirmed', async () => {
      const browser = await signedIn(server);
      const { clientPath, clientId, secret, csrf } = await registered(browser);
      const { redirect, codeVerifier } = await authorize(server, { clientId, redirectUri: 'http://localhost:8080/callback', scope: 'users:read' });
      const exchanged = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: 'http://localhost:8080/callback', code_verifier: codeVerifier }, { authorization: basic(clientId, secret) });
      assert.equal(exchanged.status, 200);
      const confirmation = await browser.post(`${server.url}${clientPath}/secret`, { _csrf: csrf, overlap_seconds: '0', revoke_grants: 'yes' });
      assert.equal(confirmation.status, 200);
      assert.match(confirmation.text, /Rotate the secret of Fjord Books and disconnect every user\?/);
      assert.match(confirmation.text, /Every connection is revoked now \(1 active\)/);
      // The overlap in the words the form offered it in, not seconds.
      const withOverlap = await browser.post(`${server.url}${clientPath}/secret`, { _csrf: csrf, overlap_seconds: '604800', revoke_grants: 'yes' });
      assert.match(withOverlap.text, /The current secret keeps working for 7 days\./);
      assert.equal((await server.storage.grants.listActive({ clientId })).length, 1, 'no grant revoked yet');
      assert.equal(secretOn((await browser.get(`${server.url}${clientPath}`)).text), undefined, 'no new secret yet');
      const introspectWith = (value: string) => postForm(`${server.url}/oauth/token/introspect`, { token: 'x' }, { authorization: basic(clientId, value) });
      assert.equal((await introspectWith(secret)).status, 200, 'the secret still works');
      const rotated = await browser.post(`${server.url}${clientPath}/secret`, { _csrf: inputValue(confirmation.text, '_csrf')!, overlap_seconds: '0', revoke_grants: 'yes', confirm: 'yes' });
      assert.equal(rotated.status, 303);
      assert.ok(secretOn((await browser.get(`${server.url}${clientPath}`)).text));
      assert.equal((await server.storage.grants.listActive({ clientId })).length, 0);
      assert.equal((await introspectWith(secret)).status, 401);
    });

    it('asks for confirmation, with the numbers, before removing scopes that connections hold; nothing changes until confirmed, then the edit is saved whole', async () => {
      const browser = await signedIn(server);
      const { clientPath, clientId, secret, csrf } = await registered(browser);
      const connect = async (scope: string, company: { id: string }) => {
        const subject = `urn:gatehouse:company:${company.id}`;
        const { redirect, codeVerifier } = await authorize(server, { clientId, redirectUri: 'http://localhost:8080/callback', scope, subject });
        const exchanged = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: 'http://localhost:8080/callback', code_verifier: codeVerifier }, { authorization: basic(clientId, secret) });
        assert.equal(exchanged.status, 200, exchanged.text);
      };
      await connect('users:read vendors:read', seed.companies[0]);
      await connect('vendors:read', seed.companies[1]);
      const edit = new URLSearchParams({ _csrf: csrf, client_name: 'Fjord Books Lite', redirect_uris: 'http://localhost:8080/callback\nhttps://fjord.example/oauth/callback', subject_type: 'company', contacts: 'dev@fjord.example' });
      edit.append('scope', 'users:read');
      const post = (body: URLSearchParams) => browser.request(`${server.url}${clientPath}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      const confirmation = await post(edit);
      assert.equal(confirmation.status, 200);
      assert.match(confirmation.text, /<h1>Remove scopes from Fjord Books\?<\/h1>/);
      assert.match(confirmation.text, /Removed: See vendors \(vendors:read\)\./, 'in words, its name beside');
      assert.match(confirmation.text, /1 connection keeps working without them/);
      assert.match(confirmation.text, /1 connection holds only removed scopes and is revoked now: each user must connect Fjord Books again\./);
      assert.match(confirmation.text, /<button class="danger" type="submit">Save and remove the scopes<\/button>/);
      const client = (await server.storage.clients.find(clientId))!;
      assert.deepEqual([client.clientName, client.scopes], ['Fjord Books', ['users:read', 'vendors:read']], 'nothing saved yet');
      assert.equal((await server.storage.grants.listActive({ clientId })).length, 2, 'nothing revoked yet');
      // The confirmation carries the whole edit: the form's values as hidden inputs (the scopes one input each).
      const again = new URLSearchParams();
      const form = confirmation.text.slice(confirmation.text.indexOf(`<form method="post" action="${clientPath}">`));
      for (const match of form.slice(0, form.indexOf('</form>')).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) again.append(match[1]!, match[2]!.replace(/&amp;/g, '&'));
      assert.deepEqual(again.getAll('scope'), ['users:read']);
      assert.equal(again.get('confirm'), 'yes');
      const saved = await post(again);
      assert.equal(saved.status, 303);
      const after = (await server.storage.clients.find(clientId))!;
      assert.deepEqual([after.clientName, after.scopes, after.redirectUris], ['Fjord Books Lite', ['users:read'], ['http://localhost:8080/callback', 'https://fjord.example/oauth/callback']]);
      assert.deepEqual((await server.storage.grants.listActive({ clientId })).map((grant) => grant.scope), [['users:read']]);
      // Removing a scope no connection holds saves at once, as any edit.
      edit.set('client_name', 'Fjord Books Lite 2');
      edit.delete('scope');
      edit.append('scope', 'users:read');
      const widened = new URLSearchParams(edit);
      widened.append('scope', 'accounts:read');
      assert.equal((await post(widened)).status, 303);
      assert.equal((await post(edit)).status, 303, 'accounts:read was held by no connection');
      assert.equal((await server.storage.clients.find(clientId))!.clientName, 'Fjord Books Lite 2');
    });

    it("the confirmation's language switch shows it again in the language chosen with the whole edit kept, and acts on nothing (removing scopes, deleting)", async () => {
      const browser = await signedIn(server);
      const { clientPath, clientId, secret, csrf } = await registered(browser);
      const { redirect, codeVerifier } = await authorize(server, { clientId, redirectUri: 'http://localhost:8080/callback', scope: 'users:read vendors:read', subject: `urn:gatehouse:company:${seed.companies[0].id}` });
      assert.equal((await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: 'http://localhost:8080/callback', code_verifier: codeVerifier }, { authorization: basic(clientId, secret) })).status, 200);
      const edit = new URLSearchParams({ _csrf: csrf, client_name: 'Fjord Books Lite', redirect_uris: 'http://localhost:8080/callback', subject_type: 'company', contacts: 'dev@fjord.example' });
      edit.append('scope', 'users:read');
      const post = (path: string, body: URLSearchParams) => browser.request(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      const confirmation = await post(clientPath, edit);
      assert.match(confirmation.text, /Remove scopes from Fjord Books\?/);
      const toGerman = languageSwitchForm(confirmation.text, 'de');
      assert.equal(toGerman.action, clientPath);
      assert.equal(toGerman.body.get('confirm'), null, 'the switch does not confirm');
      const german = await post(toGerman.action, toGerman.body);
      assert.equal(german.status, 200);
      assert.match(german.text, /<html lang="de"/);
      assert.ok(german.text.includes('Entfernt: Lieferanten ansehen (vendors:read).'), 'the scope removed, in German words');
      assert.ok(german.text.includes('<input type="hidden" name="client_name" value="Fjord Books Lite">'), 'the edit is kept');
      assert.ok(german.text.includes('<input type="hidden" name="confirm" value="yes">'));
      assert.deepEqual((await server.storage.clients.find(clientId))!.scopes, ['users:read', 'vendors:read'], 'nothing saved');
      assert.equal((await server.storage.grants.listActive({ clientId })).length, 1, 'nothing revoked');
      // Even a switch that also says confirm=yes (a hand-made form) acts on nothing.
      const both = new URLSearchParams(toGerman.body);
      both.set('confirm', 'yes');
      assert.equal((await post(clientPath, both)).status, 200);
      assert.deepEqual((await server.storage.clients.find(clientId))!.scopes, ['users:read', 'vendors:read'], 'still nothing saved');
      // The choice sticks: the client page is German too.
      assert.match((await browser.get(`${server.url}${clientPath}`)).text, /<html lang="de"/);
      // The delete confirmation's switch deletes nothing.
      const deleting = await post(`${clientPath}/delete`, new URLSearchParams({ _csrf: csrf }));
      const toFrench = languageSwitchForm(deleting.text, 'fr');
      const french = await post(toFrench.action, toFrench.body);
      assert.equal(french.status, 200);
      assert.match(french.text, /<html lang="fr"/);
      assert.ok(french.text.includes(`action="${clientPath}/delete"`));
      assert.equal((await server.storage.clients.find(clientId))!.status, 'active', 'not deleted');
      await browser.get(`${server.url}/language?locale=en&return_to=/portal`);
    });

    it('asks for confirmation before a rotation without overlap (the running integration\'s secret stops at once); nothing rotates until confirmed', async () => {
      const browser = await signedIn(server);
      const { clientPath, clientId, secret, csrf } = await registered(browser);
      const confirmation = await browser.post(`${server.url}${clientPath}/secret`, { _csrf: csrf, overlap_seconds: '0' });
      assert.equal(confirmation.status, 200);
      assert.match(confirmation.text, /Rotate the secret of Fjord Books\?/);
      assert.match(confirmation.text, /The current secret stops working now\./);
      assert.doesNotMatch(confirmation.text, /disconnect every user|Every connection is revoked|disconnect everyone/, 'no word of disconnecting, the button included: it does not');
      assert.match(confirmation.text, /<button[^>]*type="submit"[^>]*>Rotate secret<\/button>/);
      assert.doesNotMatch(confirmation.text, /name="revoke_grants"/);
      const introspectWith = (value: string) => postForm(`${server.url}/oauth/token/introspect`, { token: 'x' }, { authorization: basic(clientId, value) });
      assert.equal((await introspectWith(secret)).status, 200, 'the secret still works until confirmed');
      assert.equal(secretOn((await browser.get(`${server.url}${clientPath}`)).text), undefined, 'no new secret yet');
      const rotated = await browser.post(`${server.url}${clientPath}/secret`, { _csrf: inputValue(confirmation.text, '_csrf')!, overlap_seconds: '0', confirm: 'yes' });
      assert.equal(rotated.status, 303);
      assert.ok(secretOn((await browser.get(`${server.url}${clientPath}`)).text));
      assert.equal((await introspectWith(secret)).status, 401);
    });

    it('keeps a deep link to a client page through sign-in', async () => {
      const owner = await signedIn(server);
      const { clientPath } = await registered(owner);
      const browser = new Browser();
      const login = await browser.get(`${server.url}${clientPath}`);
      assert.equal(inputValue(login.text, 'return_to'), clientPath);
      const answer = await browser.post(`${server.url}/login`, { _csrf: inputValue(login.text, '_csrf')!, return_to: clientPath, email: developer.email, password: developer.password });
      assert.equal(answer.location, clientPath);
      assert.equal((await browser.get(`${server.url}${clientPath}`)).status, 200);
    });

    it('shows the integration activity: refused token requests with their OAuth error, a reuse detection and the grant it revoked, rotations; filtered and paginated', async () => {
      const browser = await signedIn(server);
      const { clientPath, clientId, secret, csrf } = await registered(browser);
      const auth = { authorization: basic(clientId, secret) };
      const { redirect, codeVerifier } = await authorize(server, { clientId, redirectUri: 'http://localhost:8080/callback', scope: 'users:read' });
      const first = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: 'http://localhost:8080/callback', code_verifier: codeVerifier }, auth);
      const second = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token }, auth);
      await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: second.json.refresh_token }, auth);
      const reused = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token }, auth);
      assert.equal(reused.json.error, 'invalid_grant');
      await browser.post(`${server.url}${clientPath}/secret`, { _csrf: csrf, overlap_seconds: '0', confirm: 'yes' });
      const grantId = (await server.storage.audit.list({ clientId, types: ['refresh_token.reuse_detected'] }))[0]?.grantId;
      assert.ok(grantId, 'the reuse was detected');

      const page = await browser.get(`${server.url}${clientPath}/activity`);
      assert.equal(page.status, 200);
      assert.match(page.text, /Token request refused/);
      assert.match(page.text, /<dt>OAuth error<\/dt><dd>invalid_grant<\/dd>/);
      assert.match(page.text, new RegExp(`<dt>Description</dt><dd>${reused.json.error_description}</dd>`));
      assert.match(page.text, /Refresh token reuse detected: the grant was revoked/);
      assert.match(page.text, new RegExp(`<dt>Grant</dt><dd>${grantId}</dd>`));
      assert.match(page.text, /Client secret rotated/);
      assert.match(page.text, /A user connected the client/);
      for (const value of [first.json.refresh_token, second.json.refresh_token, first.json.access_token, secret]) assert.ok(!page.text.includes(value), 'no token or secret value');

      const errorsOnly = await browser.get(`${server.url}${clientPath}/activity?type=token_errors`);
      assert.match(errorsOnly.text, /Token request refused/);
      assert.doesNotMatch(errorsOnly.text, /Client secret rotated|reuse detected/);

      for (let i = 0; i < 30; i++) await server.storage.audit.record({ type: 'token.refused', at: 1_900_000_000 + i, actor: `client:${clientId}`, clientId, details: { grant_type: 'refresh_token', error: 'invalid_grant', error_description: `page test ${i}` } });
      const newest = await browser.get(`${server.url}${clientPath}/activity?type=token_errors`);
      assert.match(newest.text, /page test 29/);
      assert.doesNotMatch(newest.text, /page test 4</);
      const older = /<a href="([^"]+)">Older events<\/a>/.exec(newest.text)?.[1]?.replaceAll('&amp;', '&');
      assert.ok(older, 'a link to older events');
      const olderPage = await browser.get(`${server.url}${older}`);
      assert.match(olderPage.text, /page test 4</);
      assert.doesNotMatch(olderPage.text, /page test 29/);

      // Another partner's client's events never show: its page is a 404.
      const foreign = await browser.get(`${server.url}/portal/clients/${seed.confidentialClient.id}/activity`);
      assert.equal(foreign.status, 404);
    });
  });
});
