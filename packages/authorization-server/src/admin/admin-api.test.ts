import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { updateClient } from '../clients/client-management.ts';
import { registerClient } from '../clients/registration.ts';
import { authorize, basic, Browser, authorizeUrl, introspect, obtainTokens, pkcePair, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { jpegImage, pngImage, svgImage, webpImage } from '../testing/images.ts';
import { createAdminToken } from './admin-credentials.ts';

const CALLBACK = 'https://acme.example/oauth/callback';
const REGISTRATION = {
  client_name: 'Acme Books', token_endpoint_auth_method: 'client_secret_basic', redirect_uris: [CALLBACK, 'http://localhost:8080/callback'],
  scope: 'users:read vendors:read', client_uri: 'https://acme.example', tos_uri: 'https://acme.example/terms', policy_uri: 'https://acme.example/privacy',
  initiation_uri: 'https://acme.example/connect', settings_uri: 'https://acme.example/settings', contacts: ['dev@acme.example'], subject_type: 'company',
};

describe('admin API /admin/v1 (bearer administrator tokens, RFC 7591 members)', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startTestServer();
    token = (await createAdminToken(server.storage, 'ops-alice', server.clock.nowSeconds())).token;
  });
  after(() => server.close());

  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
    if (Buffer.isBuffer(body)) init.body = new Uint8Array(body);
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    }
    const response = await fetch(`${server.url}/admin/v1${path}`, init);
    const text = await response.text();
    return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : undefined };
  };
  const create = async (overrides: Record<string, unknown> = {}) => {
    const response = await call('POST', '/clients', { ...REGISTRATION, ...overrides });
    assert.equal(response.status, 201, JSON.stringify(response.json));
    return response.json as Record<string, any>;
  };
  /** A code for `clientId` (logged in as Alice), then its exchange with `secret`. */
  const exchange = async (clientId: string, secret: string, redirectUri = 'http://localhost:8080/callback') => {
    const { redirect, codeVerifier } = await authorize(server, { clientId, redirectUri, scope: 'users:read' });
    const code = redirect.searchParams.get('code')!;
    return postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: codeVerifier }, { authorization: basic(clientId, secret) });
  };

  describe('authentication (RFC 6750)', () => {
    it('answers 401 with WWW-Authenticate: Bearer without a token, and error="invalid_token" with a wrong one', async () => {
      const none = await fetch(`${server.url}/admin/v1/clients`);
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="gatehouse-admin"');
      const wrong = await call('GET', '/clients', undefined, { authorization: `Bearer ${'A'.repeat(43)}` });
      assert.equal(wrong.status, 401);
      assert.match(wrong.headers.get('www-authenticate')!, /error="invalid_token"/);
      // A client secret is never an admin credential.
      const secret = await call('GET', '/clients', undefined, { authorization: `Bearer ${seed.confidentialClient.secret}` });
      assert.equal(secret.status, 401);
    });

    it('takes the Bearer scheme in any case, with one or more spaces (RFC 7235 §2.1), at the admin API and /metrics', async () => {
      for (const authorization of [`bearer ${token}`, `BEARER ${token}`, `Bearer   ${token}`]) {
        assert.equal((await call('GET', '/clients', undefined, { authorization })).status, 200, authorization);
        assert.equal((await fetch(`${server.url}/metrics`, { headers: { authorization } })).status, 200, `/metrics with ${authorization}`);
      }
      assert.equal((await call('GET', '/clients', undefined, { authorization: `Bearer${token}` })).status, 401, 'no space');
    });

    it('serves the OpenAPI document of the admin routes only, with the bearer security scheme', async () => {
      const response = await fetch(`${server.url}/admin/v1/openapi.json`);
      assert.equal(response.status, 200);
      const document = await response.json() as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { securitySchemes: Record<string, { scheme: string }> } };
      assert.match(document.openapi, /^3\./);
      const paths = Object.keys(document.paths);
      const directoryPaths = ['/admin/v1/organizations', '/admin/v1/companies', '/admin/v1/users', '/admin/v1/resource-servers', '/admin/v1/developers', '/admin/v1/api-keys'];
      assert.ok(paths.every((path) => path.startsWith('/admin/v1/clients') || path.startsWith('/admin/v1/grants') || directoryPaths.some((prefix) => path.startsWith(prefix))), paths.join(' '));
      for (const path of ['/admin/v1/clients', '/admin/v1/clients/{client_id}', '/admin/v1/clients/{client_id}/approve', '/admin/v1/clients/{client_id}/suspend',
        '/admin/v1/clients/{client_id}/reactivate', '/admin/v1/clients/{client_id}/pkce-exception', '/admin/v1/clients/{client_id}/secret', '/admin/v1/clients/{client_id}/logo',
        '/admin/v1/grants', '/admin/v1/grants/{grant_id}']) {
        assert.ok(paths.includes(path), path);
      }
      assert.deepEqual(Object.keys(document.paths['/admin/v1/clients']!).sort(), ['get', 'post']);
      assert.equal(document.components.securitySchemes.administratorToken?.scheme, 'bearer');
    });
  });

  describe('clients', () => {
    it('POST /clients registers with every field and returns the secret once; GET shows it without; list includes it; audited as the administrator', async () => {
      const created = await create();
      assert.match(created.client_id, /^[0-9a-f-]{36}$/);
      assert.match(created.client_secret, /^[A-Za-z0-9_-]{43}$/);
      for (const [name, value] of Object.entries(REGISTRATION)) assert.deepEqual(created[name], value, name);
      assert.equal(created.status, 'active'); // development
      const shown = await call('GET', `/clients/${created.client_id}`);
      assert.equal(shown.status, 200);
      assert.equal(shown.json.client_secret, undefined);
      assert.equal(shown.headers.get('cache-control'), 'no-store');
      const listed = await call('GET', '/clients');
      assert.ok(listed.json.some((client: { client_id: string }) => client.client_id === created.client_id));
      const [event] = await server.storage.audit.list({ limit: 1 });
      assert.equal(event?.type, 'client.registered');
      assert.equal(event?.actor, 'admin:ops-alice');
      assert.ok(!JSON.stringify(await server.storage.audit.list({ limit: 1000 })).includes(created.client_secret));
    });

    it('refuses bad metadata with 400 naming the field (RFC 7591 §3.2.2), and a secret chosen by the caller', async () => {
      const cases: [Record<string, unknown>, string, string][] = [
        [{ client_name: 'My Gatehouse Sync' }, 'client_name', 'invalid_client_metadata'],
        [{ redirect_uris: ['https://acme.example/*'] }, 'redirect_uris', 'invalid_redirect_uri'],
        [{ redirect_uris: ['http://acme.example/cb'] }, 'redirect_uris', 'invalid_redirect_uri'],
        [{ redirect_uris: [] }, 'redirect_uris', 'invalid_redirect_uri'],
        [{ scope: 'users:read admin:all' }, 'scope', 'invalid_client_metadata'],
        [{ client_uri: 'http://acme.example' }, 'client_uri', 'invalid_client_metadata'],
        [{ contacts: ['nobody'] }, 'contacts', 'invalid_client_metadata'],
        [{ token_endpoint_auth_method: 'none', redirect_uris: ['com.acme.app:/cb'], pkce_required: false }, 'pkce_required', 'invalid_client_metadata'],
        [{ token_endpoint_auth_method: 'none', client_secret: 'mine' }, 'client_secret', 'invalid_client_metadata'],
      ];
      for (const [overrides, field, error] of cases) {
        const response = await call('POST', '/clients', { ...REGISTRATION, ...overrides });
        assert.equal(response.status, 400, JSON.stringify(overrides));
        assert.equal(response.json.field, field, JSON.stringify(response.json));
        assert.equal(response.json.error, error);
      }
      // What the schema refuses is answered the same way (RFC 7591 §3.2.2), naming the field.
      for (const [body, field, error] of [
        [{ client_name: 'Acme' }, 'redirect_uris', 'invalid_redirect_uri'],
        [{ ...REGISTRATION, client_name: 'x'.repeat(300) }, 'client_name', 'invalid_client_metadata'],
        [{ ...REGISTRATION, token_endpoint_auth_method: 'client_secret_post' }, 'token_endpoint_auth_method', 'invalid_client_metadata'],
      ] as const) {
        const refused = await call('POST', '/clients', body);
        assert.equal(refused.status, 400, JSON.stringify(refused.json));
        assert.equal(refused.json.error, error, JSON.stringify(refused.json));
        assert.equal(refused.json.field, field);
      }
      const patched = await call('PATCH', `/clients/${seed.confidentialClient.id}`, { subject_type: 'widget' });
      assert.equal(patched.status, 400);
      assert.deepEqual([patched.json.error, patched.json.field], ['invalid_client_metadata', 'subject_type']);
    });

    it('PATCH /clients/:id changes metadata with the same rules; 404 for an unknown client', async () => {
      const created = await create();
      const patched = await call('PATCH', `/clients/${created.client_id}`, { client_name: 'Acme Ledger', tos_uri: null, contacts: ['ops@acme.example'] });
      assert.equal(patched.status, 200);
      assert.equal(patched.json.client_name, 'Acme Ledger');
      assert.equal(patched.json.tos_uri, null);
      assert.deepEqual(patched.json.contacts, ['ops@acme.example']);
      const refused = await call('PATCH', `/clients/${created.client_id}`, { settings_uri: 'ftp://acme.example' });
      assert.equal(refused.status, 400);
      assert.equal(refused.json.field, 'settings_uri');
      assert.equal((await call('PATCH', `/clients/${crypto.randomUUID()}`, { client_name: 'X' })).status, 404);
    });

    it('registers and PATCHes require_pushed_authorization_requests (RFC 9126 §6), which then refuses requests by value', async () => {
      const created = await create({ require_pushed_authorization_requests: true });
      assert.equal(created.require_pushed_authorization_requests, true);
      const plain = await new Browser().get(authorizeUrl(server, {
        response_type: 'code', client_id: created.client_id, redirect_uri: CALLBACK, scope: 'users:read', state: 's-par',
        code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
      }));
      assert.equal(plain.status, 303);
      assert.equal(new URL(plain.location!).searchParams.get('error'), 'invalid_request');
      const off = await call('PATCH', `/clients/${created.client_id}`, { require_pushed_authorization_requests: false });
      assert.equal(off.status, 200);
      assert.equal(off.json.require_pushed_authorization_requests, false);
      assert.equal((await call('GET', `/clients/${created.client_id}`)).json.require_pushed_authorization_requests, false);
      const on = await call('PATCH', `/clients/${created.client_id}`, { require_pushed_authorization_requests: true, client_name: 'Acme PAR' });
      assert.equal(on.json.require_pushed_authorization_requests, true);
      assert.equal(on.json.client_name, 'Acme PAR');
      assert.equal((await call('PATCH', `/clients/${created.client_id}`, { require_pushed_authorization_requests: 'yes' })).status, 400);
      assert.equal((await create()).require_pushed_authorization_requests, false, 'off by default');
    });

    it('registers and PATCHes dpop_bound_access_tokens (RFC 9449 §5.2); off by default; a non-boolean is 400', async () => {
      const created = await create({ dpop_bound_access_tokens: true });
      assert.equal(created.dpop_bound_access_tokens, true);
      assert.equal((await server.storage.clients.find(created.client_id))?.dpopBoundAccessTokens, true);
      const off = await call('PATCH', `/clients/${created.client_id}`, { dpop_bound_access_tokens: false });
      assert.equal(off.status, 200);
      assert.equal(off.json.dpop_bound_access_tokens, false);
      assert.equal((await call('GET', `/clients/${created.client_id}`)).json.dpop_bound_access_tokens, false);
      const on = await call('PATCH', `/clients/${created.client_id}`, { dpop_bound_access_tokens: true, client_name: 'Acme DPoP' });
      assert.equal(on.json.dpop_bound_access_tokens, true);
      assert.equal(on.json.client_name, 'Acme DPoP');
      assert.equal((await call('PATCH', `/clients/${created.client_id}`, { dpop_bound_access_tokens: 'yes' })).status, 400);
      assert.equal((await create()).dpop_bound_access_tokens, false, 'off by default');
    });

    it('approve makes a pending client active and its branding verified; approving a suspended one is 409', async () => {
      const { client } = await registerClient({ storage: server.storage, environment: 'staging', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { clientName: 'Pending Partner', clientType: 'confidential', redirectUris: [CALLBACK], scopes: ['users:read'] }, {}, { actor: 'user:x', ownerUserId: seed.users.bob.id });
      assert.equal(client.status, 'pending');
      const approved = await call('POST', `/clients/${client.clientId}/approve`);
      assert.equal(approved.status, 200);
      assert.equal(approved.json.status, 'active');
      assert.equal(approved.json.branding_verified, true);
      await call('POST', `/clients/${client.clientId}/suspend`);
      const conflict = await call('POST', `/clients/${client.clientId}/approve`);
      assert.equal(conflict.status, 409);
    });

    it('reject-branding restores a partner\'s reviewed branding (issue 13); 409 when no change waits', async () => {
      const { client } = await registerClient({ storage: server.storage, environment: 'staging', brandName: 'Gatehouse', now: server.clock.nowSeconds() },
        { clientName: 'Reviewed Partner', clientType: 'confidential', redirectUris: [CALLBACK], scopes: ['users:read'] }, {}, { actor: 'user:x', ownerUserId: seed.users.bob.id });
      await call('POST', `/clients/${client.clientId}/approve`);
      await updateClient({ storage: server.storage, environment: 'staging', brandName: 'Gatehouse', now: server.clock.nowSeconds(), actor: `user:${seed.users.bob.id}`, requireApproval: true },
        client.clientId, { clientName: 'Renamed Partner' });
      const rejected = await call('POST', `/clients/${client.clientId}/reject-branding`);
      assert.equal(rejected.status, 200);
      assert.equal(rejected.json.client_name, 'Reviewed Partner');
      assert.equal(rejected.json.branding_verified, true);
      const [event] = await server.storage.audit.list({ clientId: client.clientId, types: ['client.branding_rejected'] });
      assert.match(event!.actor, /^admin:/);
      assert.equal((await call('POST', `/clients/${client.clientId}/reject-branding`)).status, 409);
    });

    it('suspension stops flows, code redemption, refresh and introspection at once; reactivation restores the grant (SPEC decision 13)', async () => {
      const created = await create();
      const first = await exchange(created.client_id, created.client_secret);
      assert.equal(first.status, 200);
      // A code issued before the suspension, redeemed after it.
      const pending = await authorize(server, { clientId: created.client_id, redirectUri: 'http://localhost:8080/callback', scope: 'users:read', subject: `urn:gatehouse:company:${seed.companies[1].id}` });

      assert.equal((await call('POST', `/clients/${created.client_id}/suspend`)).json.status, 'suspended');
      const page = await new Browser().get(authorizeUrl(server, {
        response_type: 'code', client_id: created.client_id, redirect_uri: 'http://localhost:8080/callback', scope: 'users:read', state: 's',
        code_challenge: pkcePair().codeChallenge, code_challenge_method: 'S256',
      }));
      assert.equal(page.status, 400);
      assert.match(page.text, /suspended/);
      const redeem = await postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code: pending.redirect.searchParams.get('code')!, redirect_uri: 'http://localhost:8080/callback', code_verifier: pending.codeVerifier,
      }, { authorization: basic(created.client_id, created.client_secret) });
      assert.equal(redeem.status, 401);
      assert.equal(redeem.json.error, 'invalid_client');
      const refresh = () => postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token }, { authorization: basic(created.client_id, created.client_secret) });
      assert.equal((await refresh()).json.error, 'invalid_client');
      assert.equal((await introspect(server, first.json.access_token)).active, false);
      // The access token is revoked outright, so the revocation feed carries it to locally validating resource servers.
      const accessToken = (await server.storage.audit.list({ limit: 1 }))[0];
      assert.equal(accessToken?.type, 'client.suspended');
      assert.equal(accessToken?.details?.access_tokens_revoked, 1);

      assert.equal((await call('POST', `/clients/${created.client_id}/reactivate`)).json.status, 'active');
      const refreshed = await refresh();
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
      assert.equal((await introspect(server, first.json.access_token)).active, false);
      assert.equal((await call('POST', `/clients/${created.client_id}/reactivate`)).status, 409);
    });

    it('DELETE revokes every grant and token of the client at once; the client is gone afterwards', async () => {
      const created = await create();
      const tokens = await exchange(created.client_id, created.client_secret);
      const deleted = await call('DELETE', `/clients/${created.client_id}`);
      assert.equal(deleted.status, 200);
      assert.equal(deleted.json.status, 'deleted');
      assert.equal(deleted.json.grants_revoked, 1);
      assert.equal((await introspect(server, tokens.json.access_token)).active, false);
      const refresh = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.json.refresh_token }, { authorization: basic(created.client_id, created.client_secret) });
      assert.equal(refresh.status, 401);
      assert.equal((await call('GET', `/clients/${created.client_id}`)).status, 404);
      assert.equal((await call('DELETE', `/clients/${created.client_id}`)).status, 404);
    });

    it('PUT pkce-exception lets a confidential client redeem a code without PKCE; a public client is refused', async () => {
      const created = await create();
      const exempt = await call('PUT', `/clients/${created.client_id}/pkce-exception`, { granted: true });
      assert.equal(exempt.json.pkce_required, false);
      const { redirect } = await authorize(server, { clientId: created.client_id, redirectUri: 'http://localhost:8080/callback', scope: 'users:read', codeChallenge: null });
      const redeemed = await postForm(`${server.url}/oauth/token`, { grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: 'http://localhost:8080/callback' },
        { authorization: basic(created.client_id, created.client_secret) });
      assert.equal(redeemed.status, 200, JSON.stringify(redeemed.json));
      const mobile = await create({ token_endpoint_auth_method: 'none', redirect_uris: ['com.acme.app:/cb'] });
      assert.equal(mobile.client_secret, undefined);
      const refused = await call('PUT', `/clients/${mobile.client_id}/pkce-exception`, { granted: true });
      assert.equal(refused.status, 400);
      assert.equal(refused.json.field, 'pkce_required');
    });

    it('POST secret rotates: new secret once, the old one works during overlap_seconds then fails; revoke_grants stops the refresh tokens', async () => {
      const created = await create();
      const tokens = await exchange(created.client_id, created.client_secret);
      const rotated = await call('POST', `/clients/${created.client_id}/secret`, { overlap_seconds: 600 });
      assert.equal(rotated.status, 200);
      assert.notEqual(rotated.json.client_secret, created.client_secret);
      assert.equal(rotated.json.previous_secret_expires_at, server.clock.nowSeconds() + 600);
      const introspectWith = (secret: string) => postForm(`${server.url}/oauth/token/introspect`, { token: tokens.json.access_token }, { authorization: basic(created.client_id, secret) });
      assert.equal((await introspectWith(created.client_secret)).status, 200);
      assert.equal((await introspectWith(rotated.json.client_secret)).status, 200);
      server.clock.advanceSeconds(600);
      assert.equal((await introspectWith(created.client_secret)).status, 401);
      assert.equal((await introspectWith(rotated.json.client_secret)).status, 200);

      const again = await call('POST', `/clients/${created.client_id}/secret`, { revoke_grants: true });
      assert.equal(again.json.grants_revoked, 1);
      const refresh = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.json.refresh_token }, { authorization: basic(created.client_id, again.json.client_secret) });
      assert.equal(refresh.status, 400);
      assert.equal(refresh.json.error, 'invalid_grant');
      assert.equal((await call('POST', `/clients/${created.client_id}/secret`, { overlap_seconds: -5 })).status, 400);
    });

    it('refuses an overlap out of range, below 0 or beyond 30 days, alike: 400 invalid_request naming overlap_seconds (a rotation body is no client metadata), nothing rotated', async () => {
      const created = await create();
      for (const overlap of [-5, 30 * 24 * 3600 + 1, 1e300]) {
        const refused = await call('POST', `/clients/${created.client_id}/secret`, { overlap_seconds: overlap });
        assert.equal(refused.status, 400, String(overlap));
        assert.equal(refused.json.error, 'invalid_request', String(overlap));
        assert.equal(refused.json.field, 'overlap_seconds', String(overlap));
        assert.equal(refused.json.client_secret, undefined);
      }
      const introspect = await postForm(`${server.url}/oauth/token/introspect`, { token: 'x' }, { authorization: basic(created.client_id, created.client_secret) });
      assert.equal(introspect.status, 200, 'the secret was not rotated');
      assert.equal((await call('POST', `/clients/${created.client_id}/secret`, { overlap_seconds: 30 * 24 * 3600 })).status, 200, '30 days is the longest overlap');
    });

    it('refuses an unknown member with 400 naming it, and does nothing: a misspelt overlap rotates no secret, a misspelt event list sets no webhook', async () => {
      const created = await create();
      const misspelt = await call('POST', `/clients/${created.client_id}/secret`, { overlap_second: 3600 });
      assert.equal(misspelt.status, 400);
      assert.equal(misspelt.json.error, 'invalid_request');
      assert.equal(misspelt.json.field, 'overlap_second');
      assert.equal(misspelt.json.client_secret, undefined, 'no new secret');
      const introspect = await postForm(`${server.url}/oauth/token/introspect`, { token: 'x' }, { authorization: basic(created.client_id, created.client_secret) });
      assert.equal(introspect.status, 200, 'the old secret still works');
      const webhook = await call('PUT', `/clients/${created.client_id}/webhook`, { url: 'https://hooks.example.com/gatehouse', event_type: ['client.deleted'] });
      assert.equal(webhook.status, 400);
      assert.equal(webhook.json.field, 'event_type');
      assert.equal((await call('GET', `/clients/${created.client_id}/webhook`)).status, 404, 'no webhook set');
      const pkce = await call('PUT', `/clients/${created.client_id}/pkce-exception`, { granted: true, x: 1 });
      assert.equal(pkce.status, 400);
      assert.equal(pkce.json.field, 'x');
    });

    it('PUT logo stores a square PNG, JPEG or WebP served at logo_uri with its type, nosniff and cache headers; refuses SVG, non-square and small images', async () => {
      const created = await create();
      for (const [bytes, type] of [[jpegImage(512, 512), 'image/jpeg'], [webpImage(300, 300), 'image/webp'], [pngImage(256, 256), 'image/png']] as const) {
        const uploaded = await call('PUT', `/clients/${created.client_id}/logo`, bytes, { 'content-type': 'image/octet-stream' });
        assert.equal(uploaded.status, 200, JSON.stringify(uploaded.json));
        const logo = await fetch(uploaded.json.logo_uri);
        assert.equal(logo.status, 200);
        assert.equal(logo.headers.get('content-type'), type);
        assert.equal(logo.headers.get('x-content-type-options'), 'nosniff');
        assert.match(logo.headers.get('cache-control')!, /max-age=\d+/);
        assert.ok(Buffer.from(await logo.arrayBuffer()).equals(bytes));
        const revalidated = await fetch(uploaded.json.logo_uri, { headers: { 'if-none-match': logo.headers.get('etag')! } });
        assert.equal(revalidated.status, 304);
      }
      for (const bytes of [svgImage(512, 512), pngImage(512, 256), pngImage(128, 128)]) {
        const refused = await call('PUT', `/clients/${created.client_id}/logo`, bytes, { 'content-type': 'image/svg+xml' });
        assert.equal(refused.status, 400);
        assert.equal(refused.json.field, 'logo');
      }
      const tooLarge = await call('PUT', `/clients/${created.client_id}/logo`, pngImage(256, 256, 1024 * 1024 + 10), { 'content-type': 'image/png' });
      assert.ok(tooLarge.status === 400 || tooLarge.status === 413, String(tooLarge.status));
      assert.equal((await fetch(`${server.url}/logos/${crypto.randomUUID()}`)).status, 404);
    });
  });

  it('the seeded demo flow still works for the unchanged demo client', async () => {
    const { tokens } = await obtainTokens(server);
    assert.ok(tokens.access_token);
  });
});
