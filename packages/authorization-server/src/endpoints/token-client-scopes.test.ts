/**
 * A client's registered scopes narrowed by an administrator (PATCH /admin/v1/clients/:id `scope`): what it was
 * granted before loses the removed scopes at once (storage.ts clients.update), on both backends and for both
 * access-token formats. Before, narrowing a client narrowed its API keys but not its grants: a refresh kept
 * returning the removed scope, and its access tokens kept answering for it, for as long as the grant lived.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createAdminToken } from '../admin/admin-credentials.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { AuthorizationServerOptions } from '../options.ts';
import type { ClientRecord, Storage } from '../storage/storage.ts';
import { authorize, confidentialAuth, introspect, obtainTokens, postForm, seed, startTestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';

const postgresSkip = await postgresSkipReason();
const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-client-scopes-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));

const CLIENT_ID = seed.confidentialClient.id;

for (const backend of ['sqlite', 'postgres'] as const) {
  for (const accessTokenFormat of ['opaque', 'jwt'] as const) {
    describe(`a client's registered scopes narrowed (${backend}, ${accessTokenFormat} access tokens)`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
      const start = async (options: Partial<AuthorizationServerOptions> = {}) => {
        const storage: Storage = backend === 'postgres'
          ? await createTestPostgresStorage()
          : createSqliteStorage(join(temporaryDirectory, `${randomBytes(6).toString('hex')}.sqlite`));
        // Off until a test turns it on: the client as it is after a change that removed vendors:read, while its
        // tokens stay as a rotation in flight wrote them before that change. Installed before the server starts
        // (it binds the storage's operations then).
        const view = { narrowed: false };
        const narrowed = (client: ClientRecord) => view.narrowed && client.clientId === CLIENT_ID
          ? { ...client, scopes: client.scopes.filter((scope) => scope !== 'vendors:read') } : client;
        const find = storage.clients.find.bind(storage.clients);
        storage.clients.find = async (clientId) => {
          const client = await find(clientId);
          return client && narrowed(client);
        };
        const findByDigest = storage.tokens.findByDigest.bind(storage.tokens);
        storage.tokens.findByDigest = async (digest, findOptions) => {
          const found = await findByDigest(digest, findOptions);
          return found && { ...found, client: narrowed(found.client) };
        };
        // Unset until a test sets it: run once as a code exchange's or a refresh's storage operation begins, after the
        // token endpoint read the client and minted the tokens (a change committing while the request is in flight).
        const exchanging: { once?: () => Promise<void> } = {};
        const inFlight = async () => {
          const once = exchanging.once;
          exchanging.once = undefined;
          await once?.();
        };
        const exchangeCode = storage.grants.exchangeCode.bind(storage.grants);
        storage.grants.exchangeCode = async (...args) => {
          await inFlight();
          return exchangeCode(...args);
        };
        const exchangeReadyCode = storage.grants.exchangeReadyCode.bind(storage.grants);
        storage.grants.exchangeReadyCode = async (...args) => {
          await inFlight();
          return exchangeReadyCode(...args);
        };
        const rotateRefreshToken = storage.tokens.rotateRefreshToken.bind(storage.tokens);
        storage.tokens.rotateRefreshToken = async (...args) => {
          await inFlight();
          return rotateRefreshToken(...args);
        };
        const rotateReadyRefreshToken = storage.tokens.rotateReadyRefreshToken.bind(storage.tokens);
        storage.tokens.rotateReadyRefreshToken = async (...args) => {
          await inFlight();
          return rotateReadyRefreshToken(...args);
        };
        const server = await startTestServer({ storage, accessTokenFormat, ...options });
        const adminToken = (await createAdminToken(storage, 'ops-alice', server.clock.nowSeconds())).token;
        /** The client's registered scopes without `removed`, through the admin API. */
        const removeScopes = async (...removed: string[]) => {
          const client = (await storage.clients.find(CLIENT_ID))!;
          const response = await fetch(`${server.url}/admin/v1/clients/${CLIENT_ID}`, {
            method: 'PATCH', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ scope: client.scopes.filter((scope) => !removed.includes(scope)).join(' ') }),
          });
          assert.equal(response.status, 200, await response.clone().text());
        };
        const refresh = (refreshToken: string) => postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: confidentialAuth() });
        return { storage, server, removeScopes, refresh, view, exchanging };
      };

      it('the next refresh answers with what is left, the earlier access token stops, and a grant left with nothing is revoked', async () => {
        const { storage, server, removeScopes, refresh } = await start();
        try {
          const { tokens } = await obtainTokens(server, { scope: 'users:read vendors:read' });
          assert.equal(tokens.scope, 'users:read vendors:read');
          await removeScopes('vendors:read');
          assert.deepEqual(await introspect(server, tokens.access_token), { active: false }, 'the access token named vendors:read');
          const refreshed = await refresh(tokens.refresh_token);
          assert.equal(refreshed.status, 200, refreshed.text);
          assert.equal(refreshed.json.scope, 'users:read');
          const active = await introspect(server, refreshed.json.access_token as string);
          assert.deepEqual([active.active, active.scope], [true, 'users:read']);
          const [grant] = await storage.grants.listActive({ clientId: CLIENT_ID });
          assert.deepEqual(grant?.scope, ['users:read']);
          const audit = (await storage.audit.list({ clientId: CLIENT_ID, limit: 100 })).find((event) => event.type === 'client.updated');
          assert.deepEqual(audit?.details, { fields: 'scope', grants_narrowed: 1, grants_revoked: 0, access_tokens_revoked: 1 });

          await removeScopes('users:read');
          assert.equal((await storage.grants.find(grant!.grantId))?.revocationReason, 'client_scopes_narrowed');
          const refused = await refresh(refreshed.json.refresh_token as string);
          assert.deepEqual([refused.status, refused.json.error, refused.json.error_description], [400, 'invalid_grant', 'the authorization was revoked']);
          assert.equal(refused.json.access_token, undefined);
          assert.deepEqual(await introspect(server, refreshed.json.access_token as string), { active: false });
        } finally {
          await server.close();
        }
      });

      const exchange = async (server: { url: string }, redirect: URL, codeVerifier: string) => postForm(`${server.url}/oauth/token`, {
        grant_type: 'authorization_code', code: redirect.searchParams.get('code')!, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
      }, { authorization: confidentialAuth() });

      it('a code issued before the change is exchanged for what is left (PostgreSQL: not the code as this instance remembers writing it)', async () => {
        const { storage, server, removeScopes } = await start();
        try {
          // The user connected before: the second authorization skips consent (SPEC decision 11), and its code is
          // written by authorizationCodes.create, which PostgreSQL remembers (postgres/written-rows.ts).
          const subject = `urn:gatehouse:company:${seed.companies[0]!.id}`;
          const extra = { urn_gatehouse_params_oauth_subject: subject };
          const { browser } = await obtainTokens(server, { scope: 'users:read vendors:read', subject, extra });
          const { redirect, codeVerifier } = await authorize(server, { scope: 'users:read vendors:read', browser, extra });
          await removeScopes('vendors:read');
          const exchanged = await exchange(server, redirect, codeVerifier);
          assert.equal(exchanged.status, 200, exchanged.text);
          assert.equal(exchanged.json.scope, 'users:read');
          assert.deepEqual((await storage.grants.listActive({ clientId: CLIENT_ID })).map((grant) => grant.scope), [['users:read']]);
          if (accessTokenFormat === 'jwt') {
            const claims = JSON.parse(Buffer.from((exchanged.json.access_token as string).split('.')[1]!, 'base64url').toString());
            assert.equal(claims.scope, 'users:read', 'the JWT a resource server validates locally');
          }
        } finally {
          await server.close();
        }
      });

      it('a change committed while a code exchange is in flight: the exchange answers what is left (RFC 6749 §5.1 scope, the JWT\'s claim), and stores one grant, without the removed scope (README "Registering clients")', async () => {
        const { storage, server, removeScopes, exchanging } = await start();
        try {
          const { redirect, codeVerifier } = await authorize(server, { scope: 'users:read vendors:read' });
          exchanging.once = () => removeScopes('vendors:read');
          const exchanged = await exchange(server, redirect, codeVerifier);
          assert.equal(exchanging.once, undefined, 'the change was made while the exchange was in flight');
          assert.equal(exchanged.status, 200, exchanged.text);
          assert.equal(exchanged.json.scope, 'users:read');
          if (accessTokenFormat === 'jwt') {
            const claims = JSON.parse(Buffer.from((exchanged.json.access_token as string).split('.')[1]!, 'base64url').toString());
            assert.equal(claims.scope, 'users:read', 'the JWT a resource server validates locally');
          }
          const active = await introspect(server, exchanged.json.access_token as string);
          assert.deepEqual([active.active, active.scope], [true, 'users:read']);
          const grants = await storage.grants.listActive({ clientId: CLIENT_ID });
          assert.deepEqual(grants.map((grant) => grant.scope), [['users:read']], 'one grant, without vendors:read');
          const refreshTokenInfo = await postForm(`${server.url}/oauth/token/introspect`, { token: exchanged.json.refresh_token as string }, { authorization: confidentialAuth() });
          assert.deepEqual([refreshTokenInfo.json.active, refreshTokenInfo.json.scope], [true, 'users:read']);
        } finally {
          await server.close();
        }
      });

      it('a change committed while a refresh is in flight: the refresh answers what is left (RFC 6749 §6 scope, the JWT\'s claim) and stores it (README "Registering clients")', async () => {
        const { server, removeScopes, refresh, exchanging } = await start();
        try {
          const { tokens } = await obtainTokens(server, { scope: 'users:read vendors:read' });
          exchanging.once = () => removeScopes('vendors:read');
          const refreshed = await refresh(tokens.refresh_token);
          assert.equal(exchanging.once, undefined, 'the change was made while the refresh was in flight');
          assert.equal(refreshed.status, 200, refreshed.text);
          assert.equal(refreshed.json.scope, 'users:read');
          if (accessTokenFormat === 'jwt') {
            const claims = JSON.parse(Buffer.from((refreshed.json.access_token as string).split('.')[1]!, 'base64url').toString());
            assert.equal(claims.scope, 'users:read', 'the JWT a resource server validates locally');
          }
          const active = await introspect(server, refreshed.json.access_token as string);
          assert.deepEqual([active.active, active.scope], [true, 'users:read']);
          const again = await refresh(refreshed.json.refresh_token as string);
          assert.deepEqual([again.status, again.json.scope], [200, 'users:read'], 'the new refresh token is current, with what is left');
        } finally {
          await server.close();
        }
      });

      it('a code written by an authorization in flight when the change committed is exchanged for what is left', async () => {
        const { storage, server, view } = await start();
        try {
          const { redirect, codeVerifier } = await authorize(server, { scope: 'users:read vendors:read' });
          view.narrowed = true;
          const exchanged = await exchange(server, redirect, codeVerifier);
          assert.equal(exchanged.status, 200, exchanged.text);
          assert.equal(exchanged.json.scope, 'users:read');
          view.narrowed = false;
          assert.deepEqual((await storage.grants.listActive({ clientId: CLIENT_ID })).map((grant) => grant.scope), [['users:read']]);
        } finally {
          await server.close();
        }
      });

      it('a token still naming a removed scope (a refresh in flight when the change committed) is narrowed at its next use', async () => {
        const { server, refresh, view } = await start();
        try {
          const { tokens } = await obtainTokens(server, { scope: 'users:read vendors:read' });
          view.narrowed = true;
          assert.deepEqual(await introspect(server, tokens.access_token), { active: false }, 'an access token naming a removed scope');
          const refreshTokenInfo = await postForm(`${server.url}/oauth/token/introspect`, { token: tokens.refresh_token }, { authorization: confidentialAuth() });
          assert.deepEqual([refreshTokenInfo.json.active, refreshTokenInfo.json.scope], [true, 'users:read'], 'a refresh token answers with what is left');
          const widened = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, scope: 'vendors:read' }, { authorization: confidentialAuth() });
          assert.deepEqual([widened.status, widened.json.error], [400, 'invalid_scope']);
          const refreshed = await refresh(tokens.refresh_token);
          assert.equal(refreshed.status, 200, refreshed.text);
          assert.equal(refreshed.json.scope, 'users:read');
          view.narrowed = false;
          const stored = await postForm(`${server.url}/oauth/token/introspect`, { token: refreshed.json.refresh_token as string }, { authorization: confidentialAuth() });
          assert.deepEqual([stored.json.active, stored.json.scope], [true, 'users:read'], 'the new refresh token is stored with what is left');
        } finally {
          await server.close();
        }
      });
    });
  }
}
