/**
 * Rotating the JWT signing keys against a real listening server, with the resource-server toolkit in local
 * mode validating throughout (issue 14), on SQLite and PostgreSQL. The server's test clock (seconds) and the
 * verifier's manual clock (milliseconds) move together.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import { createTokenVerifier } from '@gatehouse/resource-server';
import { createManualClock } from '@gatehouse/resource-server/testing';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { API_AUDIENCE, confidentialAuth, obtainTokens, postForm, seed, startTestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import {
  ACCESS_TOKEN_SIGNING_KEY_SETTING, JWKS_CACHE_SECONDS, MIN_SIGNING_KEY_PREPUBLICATION_SECONDS, rotateSigningKey, SESSION_HANDOVER_SIGNING_KEY_SETTING,
  SIGNING_KEYRING_REFRESH_SECONDS,
} from './signing-key.ts';

const postgresSkip = await postgresSkipReason();
const backends: Array<{ name: string; skip: string | false; open(): Promise<Storage> }> = [
  { name: 'SQLite', skip: false, open: async () => createSqliteStorage(':memory:') },
  { name: 'PostgreSQL', skip: postgresSkip, open: () => createTestPostgresStorage() },
];
const PREPUBLICATION_SECONDS = 600;

for (const backend of backends) {
  describe(`JWT signing key rotation (issue 14) on ${backend.name}`, { skip: backend.skip }, () => {
    it('publishes the next key before it signs, keeps the old one until its tokens expired, and local-mode resource servers validate throughout', async () => {
      const server = await startTestServer({ storage: await backend.open(), accessTokenFormat: 'jwt' });
      const apiClock = createManualClock(server.clock.nowSeconds() * 1000);
      const jwksUri = `${server.url}/.well-known/jwks.json`;
      let jwksFetches = 0;
      const countingFetch = (url: string | URL | Request, init?: RequestInit) => {
        if (String(url) === jwksUri) jwksFetches += 1;
        return fetch(url, init);
      };
      const newVerifier = () => createTokenVerifier({
        mode: 'local', issuer: server.issuer, audience: API_AUDIENCE,
        introspectionClientId: seed.resourceServer.id, introspectionClientSecret: seed.resourceServer.secret,
        // An unknown kid never refetches here: the verifier must already hold the next key (pre-publication).
        jwksCooldownSeconds: 1_000_000_000, now: apiClock.now, scheduleTimer: apiClock.scheduleTimer, fetch: countingFetch as typeof fetch,
      });
      const advanceSeconds = async (seconds: number) => {
        server.clock.advanceSeconds(seconds);
        await apiClock.advance(seconds * 1000);
      };
      const publishedKids = async () => ((await (await fetch(jwksUri)).json()) as { keys: Array<{ kid: string }> }).keys.map((key) => key.kid);
      const kidOf = (token: string) => decodeProtectedHeader(token).kid;
      const verifiers: Array<ReturnType<typeof newVerifier>> = [];
      try {
        const [first, second] = seed.companies.map((company) => `urn:gatehouse:company:${company.id}`);
        const { tokens: early } = await obtainTokens(server, { subject: first });
        const oldKid = kidOf(early.access_token)!;
        const handoverKidsBefore = (await publishedKids()).filter((kid) => kid !== oldKid);

        const rotation = await rotateSigningKey(server.storage, ACCESS_TOKEN_SIGNING_KEY_SETTING, server.clock.nowSeconds(), PREPUBLICATION_SECONDS);
        assert.notEqual(rotation.kid, oldKid);

        // Within one keyring refresh every instance publishes the next key, but still signs with the old one.
        await advanceSeconds(SIGNING_KEYRING_REFRESH_SECONDS);
        const { tokens: during } = await obtainTokens(server, { subject: second });
        assert.equal(kidOf(during.access_token), oldKid, 'the next key does not sign during pre-publication');
        assert.deepEqual(new Set(await publishedKids()), new Set([oldKid, rotation.kid, ...handoverKidsBefore]));

        // A resource server that (re)fetched the JWKS during pre-publication...
        const verifier = newVerifier();
        verifiers.push(verifier);
        await verifier.ready();
        assert.equal((await verifier.verifyAccessToken(`Bearer ${during.access_token}`, [])).clientId, seed.confidentialClient.id);
        const fetchesAfterStart = jwksFetches;

        // ...validates tokens of the next key once it signs, without fetching the JWKS again.
        await advanceSeconds(PREPUBLICATION_SECONDS - SIGNING_KEYRING_REFRESH_SECONDS);
        const refreshed = await postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: early.refresh_token }, { authorization: confidentialAuth() });
        assert.equal(refreshed.status, 200, refreshed.text);
        assert.equal(kidOf(refreshed.json.access_token), rotation.kid, 'the next key signs from its activation');
        assert.equal((await verifier.verifyAccessToken(`Bearer ${refreshed.json.access_token}`, [])).clientId, seed.confidentialClient.id);
        // The old key still validates the tokens it signed before (and introspection agrees).
        assert.equal((await verifier.verifyAccessToken(`Bearer ${during.access_token}`, [])).clientId, seed.confidentialClient.id);
        const introspected = await postForm(`${server.url}/oauth/token/introspect`, { token: during.access_token }, { authorization: confidentialAuth() });
        assert.equal(introspected.json.active, true);
        assert.equal(jwksFetches, fetchesAfterStart, 'no JWKS refetch was needed');

        // After the longest access-token lifetime plus the JWKS cache time, the old key leaves the JWKS.
        await advanceSeconds(900 + JWKS_CACHE_SECONDS - 1);
        assert.ok((await publishedKids()).includes(oldKid));
        await advanceSeconds(1);
        const after = await publishedKids();
        assert.ok(!after.includes(oldKid), 'the old key is retired');
        assert.ok(after.includes(rotation.kid));
        assert.deepEqual(after.filter((kid) => kid !== rotation.kid), handoverKidsBefore, 'the session handover key is untouched');
      } finally {
        for (const verifier of verifiers) verifier.close();
        await server.close();
      }
    });

    it('rotates the session handover key the same way, and refuses a pre-publication shorter than two key reloads', async () => {
      const storage = await backend.open();
      try {
        await assert.rejects(rotateSigningKey(storage, SESSION_HANDOVER_SIGNING_KEY_SETTING, 1_800_000_000, MIN_SIGNING_KEY_PREPUBLICATION_SECONDS - 1), RangeError);
        assert.deepEqual(await storage.settings.list(`${SESSION_HANDOVER_SIGNING_KEY_SETTING}.`), []);
        const rotation = await rotateSigningKey(storage, SESSION_HANDOVER_SIGNING_KEY_SETTING, 1_800_000_000, MIN_SIGNING_KEY_PREPUBLICATION_SECONDS);
        assert.equal(rotation.activatesAt, 1_800_000_000 + MIN_SIGNING_KEY_PREPUBLICATION_SECONDS);
        assert.equal((await storage.settings.list(`${SESSION_HANDOVER_SIGNING_KEY_SETTING}.`)).length, 1);
      } finally {
        await storage.close();
      }
    });
  });
}
