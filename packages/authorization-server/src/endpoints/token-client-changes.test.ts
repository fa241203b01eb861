/**
 * POST /oauth/token when the client changes after its authentication and before the exchange or rotation commits
 * (storage.ts AuthenticatedClient; SPEC decisions 10 and 13; found by a concurrency review). The storage
 * operation is wrapped so that the change commits exactly there, as a concurrent administrator's would: the
 * answer is 401 invalid_client, nothing is issued, the code stays unused and the grant unrevoked (a client
 * change is no refresh-token reuse). The interleavings under PostgreSQL's locks: postgres/client-change-locks.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { digestClientSecret } from '../clients/client-secret.ts';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { AuthorizationServerOptions } from '../options.ts';
import type { ClientPatch, Storage } from '../storage/storage.ts';
import { authorize, confidentialAuth, obtainTokens, postForm, seed, startTestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';

const postgresSkip = await postgresSkipReason();
const temporaryDirectory = mkdtempSync(join(tmpdir(), 'gatehouse-client-changes-'));
after(() => rmSync(temporaryDirectory, { recursive: true, force: true }));

/** The seeded client as it was before the change. */
const RESTORED: ClientPatch = { status: 'active', secretDigest: digestClientSecret(seed.confidentialClient.secret) };
const CHANGES: Array<[name: string, patch: () => ClientPatch]> = [
  ['suspended', () => ({ status: 'suspended' })],
  ['given a new secret', () => ({ secretDigest: digestClientSecret(randomBytes(32).toString('base64url')) })],
];

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`token endpoint: a client changed while its request is in flight (${backend})`, { skip: backend === 'postgres' ? postgresSkip : false }, () => {
    /**
     * A server whose storage makes `changeBefore`'s patch commit just before the next exchange or rotation runs
     * (after the client's authentication), as a concurrent administrator's change would. Installed before the
     * server starts: it binds the storage's operations then.
     */
    const start = async (options: Partial<AuthorizationServerOptions> = {}) => {
      const storage: Storage = backend === 'postgres' ? await createTestPostgresStorage() : createSqliteStorage(join(temporaryDirectory, `${randomBytes(6).toString('hex')}.sqlite`));
      let pending: ClientPatch | undefined;
      let pendingAction: (() => Promise<unknown>) | undefined;
      // Both paths of each grant: opaque access tokens take the ready one, JWTs (the default here) the other.
      const operations = [['grants', 'exchangeReadyCode'], ['grants', 'exchangeCode'], ['tokens', 'rotateReadyRefreshToken'], ['tokens', 'rotateRefreshToken']] as const;
      for (const [group, name] of operations) {
        const store = storage[group] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
        const original = store[name]!.bind(store);
        store[name] = async (...args: unknown[]) => {
          const patch = pending;
          pending = undefined;
          if (patch) await storage.clients.update(seed.confidentialClient.id, patch);
          const action = pendingAction;
          pendingAction = undefined;
          await action?.();
          return original(...args);
        };
      }
      const changeBefore = (patch: ClientPatch) => {
        pending = patch;
      };
      const beforeNext = (action: () => Promise<unknown>) => {
        pendingAction = action;
      };
      return { storage, server: await startTestServer({ storage, ...options }), changeBefore, beforeNext };
    };

    for (const accessTokenFormat of ['opaque', 'jwt'] as const) it(`a refresh whose grant is revoked meanwhile (a Disconnect), ${accessTokenFormat} access tokens: invalid_grant "the authorization was revoked", not a reuse (nothing was used twice)`, async () => {
      const { storage, server, beforeNext } = await start({ accessTokenFormat });
      try {
        const { tokens } = await obtainTokens(server);
        const [grant] = await storage.grants.listActive({ clientId: seed.confidentialClient.id });
        beforeNext(() => storage.grants.revoke(grant!.grantId, server.clock.nowSeconds(), 'user_revoked'));
        const response = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
        assert.deepEqual([response.status, response.json.error, response.json.error_description], [400, 'invalid_grant', 'the authorization was revoked']);
        assert.equal(response.json.access_token, undefined);
        assert.equal((await storage.grants.find(grant!.grantId))?.revocationReason, 'user_revoked', 'revoked by the Disconnect, not as reuse');
        const events = await storage.audit.list({ limit: 1000 });
        assert.equal(events.some((event) => event.type === 'refresh_token.reuse_detected'), false);
      } finally {
        await server.close();
      }
    });

    for (const [name, patch] of CHANGES) {
      it(`a code exchange of a client ${name} meanwhile: 401 invalid_client, no token, the code still unused`, async () => {
        const { storage, server, changeBefore } = await start();
        try {
          const { redirect, codeVerifier } = await authorize(server);
          const code = redirect.searchParams.get('code')!;
          changeBefore(patch());
          const response = await postForm(`${server.url}/oauth/token`, {
            grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
          }, { authorization: confidentialAuth() });
          assert.equal(response.status, 401);
          const body = response.json as Record<string, unknown>;
          assert.equal(body.error, 'invalid_client');
          assert.equal(body.access_token, undefined);
          assert.deepEqual(await storage.grants.listActive({ clientId: seed.confidentialClient.id }), [], 'no grant');
          // Nothing was consumed: once the client is as it was, the same request redeems the code.
          await storage.clients.update(seed.confidentialClient.id, RESTORED);
          const retry = await postForm(`${server.url}/oauth/token`, {
            grant_type: 'authorization_code', code, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
          }, { authorization: confidentialAuth() });
          assert.equal(retry.status, 200);
        } finally {
          await server.close();
        }
      });

      it(`a refresh of a client ${name} meanwhile: 401 invalid_client, nothing rotated, the grant not revoked as reuse`, async () => {
        const { storage, server, changeBefore } = await start();
        try {
          const { tokens } = await obtainTokens(server);
          changeBefore(patch());
          const response = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
          assert.equal(response.status, 401);
          assert.equal(response.json.error, 'invalid_client');
          const [grant] = await storage.grants.listActive({ clientId: seed.confidentialClient.id });
          assert.ok(grant, 'the grant is still active (a client change is no reuse)');
          // Not rotated: once the client is as it was, the same refresh token rotates.
          await storage.clients.update(seed.confidentialClient.id, RESTORED);
          const retry = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token }, { authorization: confidentialAuth() });
          assert.equal(retry.status, 200);
        } finally {
          await server.close();
        }
      });
    }
  });
}
