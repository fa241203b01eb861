/**
 * Rotating the token HMAC key against a real listening server, on SQLite and PostgreSQL (issue 14: "A test
 * rotates mid-flow: old refresh tokens still rotate once, new ones use the new key").
 */
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import type { Storage } from '../storage/storage.ts';
import { authorize, confidentialAuth, introspect, obtainTokens, postForm, seed, startTestServer, type TestServer } from '../testing/harness.ts';
import { createTestPostgresStorage, postgresSkipReason } from '../testing/postgres.ts';
import {
  DEFAULT_TOKEN_KEY_ACTIVATION_DELAY_SECONDS, MIN_TOKEN_KEY_ACTIVATION_DELAY_SECONDS, rotateTokenKey, TOKEN_HMAC_KEY_SETTING_PREFIX, TOKEN_KEYRING_REFRESH_SECONDS,
} from './token-keyring.ts';

const postgresSkip = await postgresSkipReason();

const backends: Array<{ name: string; skip: string | false; open(): Promise<Storage> }> = [
  { name: 'SQLite', skip: false, open: async () => createSqliteStorage(':memory:') },
  { name: 'PostgreSQL', skip: postgresSkip, open: () => createTestPostgresStorage() },
];

/** The storage with its refresh/access-token lookups counted (to prove a refusal happened before any). */
function countingLookups(storage: Storage): { storage: Storage; lookups: () => number } {
  let lookups = 0;
  const tokens = { ...storage.tokens, findByDigest: (digest: string) => { lookups += 1; return storage.tokens.findByDigest(digest); } };
  return { storage: { ...storage, tokens }, lookups: () => lookups };
}

const refresh = (server: TestServer, refreshToken: string) =>
  postForm(`${server.url}/oauth/token`, { grant_type: 'refresh_token', refresh_token: refreshToken }, { authorization: confidentialAuth() });

for (const backend of backends) {
  describe(`token key rotation (issue 14) on ${backend.name}`, { skip: backend.skip }, () => {
    it('rotates mid-flow without logging anyone out: old codes and refresh tokens still work once, new tokens carry the new key id', async () => {
      const server = await startTestServer({ storage: await backend.open() });
      try {
        const [first, second] = seed.companies.map((company) => `urn:gatehouse:company:${company.id}`);
        const { tokens: before } = await obtainTokens(server, { subject: first });
        assert.match(before.refresh_token, /^grt_k0_/);
        assert.match(before.access_token, /^gat_k0_/);

        const rotation = await rotateTokenKey(server.storage, server.clock.nowSeconds());
        assert.deepEqual(rotation, { kid: 'k1', activatesAt: server.clock.nowSeconds() + DEFAULT_TOKEN_KEY_ACTIVATION_DELAY_SECONDS, createdHere: true });

        // Announced, not yet active: the server reloads the ring, still mints with k0.
        server.clock.advanceSeconds(DEFAULT_TOKEN_KEY_ACTIVATION_DELAY_SECONDS - 30);
        // (Another company, so this grant does not supersede the first: SPEC decision 11.)
        const { redirect, codeVerifier } = await authorize(server, { subject: second });
        const codeBefore = redirect.searchParams.get('code')!;
        assert.match(codeBefore, /^gac_k0_/);

        // k1 activates while that code is in flight: the code minted with k0 still redeems, once.
        server.clock.advanceSeconds(31);
        const exchanged = await postForm(`${server.url}/oauth/token`, {
          grant_type: 'authorization_code', code: codeBefore, redirect_uri: seed.confidentialClient.redirectUri, code_verifier: codeVerifier,
        }, { authorization: confidentialAuth() });
        assert.equal(exchanged.status, 200, exchanged.text);
        assert.match(exchanged.json.access_token, /^gat_k1_/);
        assert.match(exchanged.json.refresh_token, /^grt_k1_/);

        // The access token minted before the rotation still introspects as active.
        assert.equal((await introspect(server, before.access_token)).active, true);

        // The refresh token minted with k0 rotates once, into k1 tokens...
        const rotated = await refresh(server, before.refresh_token);
        assert.equal(rotated.status, 200, rotated.text);
        assert.match(rotated.json.refresh_token, /^grt_k1_/);
        assert.match(rotated.json.access_token, /^gat_k1_/);
        const next = await refresh(server, rotated.json.refresh_token);
        assert.equal(next.status, 200, next.text);
        // ...and only once (SPEC decision 8: a rotated-out token is refused and revokes its grant).
        const replay = await refresh(server, before.refresh_token);
        assert.equal(replay.status, 400);
        assert.equal(replay.json.error, 'invalid_grant');
        assert.equal((await introspect(server, next.json.access_token)).active, false, 'the replay revoked the grant');
      } finally {
        await server.close();
      }
    });

    it('refuses a refresh token naming an unknown key id with invalid_grant before any storage lookup', async () => {
      const counted = countingLookups(await backend.open());
      const server = await startTestServer({ storage: counted.storage });
      try {
        const { tokens } = await obtainTokens(server);
        const lookupsBefore = counted.lookups();
        // A well-formed value with key id k9, tagged with a real key: still refused, since no k9 exists.
        const forged = tokens.refresh_token.replace(/^grt_k0_/, 'grt_k9_');
        const response = await refresh(server, forged);
        assert.equal(response.status, 400);
        assert.equal(response.json.error, 'invalid_grant');
        assert.equal(counted.lookups(), lookupsBefore, 'no token lookup for an unknown key id');
        assert.ok(!('access_token' in response.json));
        // The genuine token was not touched by the attempt.
        assert.equal((await refresh(server, tokens.refresh_token)).status, 200);
      } finally {
        await server.close();
      }
    });

    it('keeps tokens minted before key ids existed (<prefix>_<random>.<tag>) working with the original key, across a rotation', async () => {
      const tokenHmacKey = randomBytes(32);
      const server = await startTestServer({ storage: await backend.open(), tokenHmacKey });
      try {
        const { tokens } = await obtainTokens(server);
        // Rotate the refresh token, in storage, into a pair minted the way a pre-keyring server minted it.
        const legacy = (kind: 'gat' | 'grt') => {
          const body = `${kind}_${randomBytes(32).toString('base64url')}`;
          const digest = createHmac('sha256', tokenHmacKey).update(body).digest('base64url');
          return { value: `${body}.${digest}`, digest };
        };
        const [access, refreshToken] = [legacy('gat'), legacy('grt')];
        const current = (await server.storage.tokens.findByDigest(keyedDigest(tokenHmacKey, tokens.refresh_token)))!;
        const now = server.clock.nowSeconds();
        const base = { grantId: current.grant.grantId, clientId: current.grant.clientId, issuedAt: now, rotatedAt: null, revokedAt: null, scope: current.token.scope };
        assert.equal(await server.storage.tokens.rotateRefreshToken(current.token.tokenDigest, now, [
          { ...base, tokenDigest: access.digest, tokenId: randomUUID(), kind: 'access', expiresAt: now + 900 },
          { ...base, tokenDigest: refreshToken.digest, tokenId: randomUUID(), kind: 'refresh', expiresAt: now + 60 * 86_400 },
        ]), 'rotated');

        await rotateTokenKey(server.storage, now);
        server.clock.advanceSeconds(DEFAULT_TOKEN_KEY_ACTIVATION_DELAY_SECONDS);
        assert.equal((await introspect(server, access.value)).active, true);
        const rotated = await refresh(server, refreshToken.value);
        assert.equal(rotated.status, 200, rotated.text);
        assert.match(rotated.json.refresh_token, /^grt_k1_/);
      } finally {
        await server.close();
      }
    });

    it('refuses an activation delay shorter than two keyring reloads, and agrees on one key when two operators rotate at once', async () => {
      const storage = await backend.open();
      try {
        await assert.rejects(rotateTokenKey(storage, 1_800_000_000, MIN_TOKEN_KEY_ACTIVATION_DELAY_SECONDS - 1), RangeError);
        assert.ok(MIN_TOKEN_KEY_ACTIVATION_DELAY_SECONDS >= 2 * TOKEN_KEYRING_REFRESH_SECONDS);
        // Two rotations at once either meet on one key id (one key kept) or come one after the other.
        const [a, b] = await Promise.all([rotateTokenKey(storage, 1_800_000_000), rotateTokenKey(storage, 1_800_000_000)]);
        const stored = await storage.settings.list(TOKEN_HMAC_KEY_SETTING_PREFIX);
        if (a.kid === b.kid) {
          assert.equal(a.kid, 'k1');
          assert.equal([a.createdHere, b.createdHere].filter(Boolean).length, 1);
          assert.equal(stored.length, 1);
        } else {
          assert.deepEqual([a.kid, b.kid].sort(), ['k1', 'k2']);
          assert.ok(a.createdHere && b.createdHere);
          assert.equal(stored.length, 2);
        }
        const third = await rotateTokenKey(storage, 1_800_000_010, 120);
        assert.equal(third.kid, `k${stored.length + 1}`);
        assert.ok(third.activatesAt >= a.activatesAt, 'a later key never activates before an earlier one');
      } finally {
        await storage.close();
      }
    });
  });
}

/** The stored digest of a keyed value minted with `key`. */
/** The stored digest of a value minted with `key`: `<time><tag>` (tokens/opaque-token.ts). */
const keyedDigest = (key: Buffer, value: string) => `${/^g[a-z]{2}_k[0-9]+_([0-9a-v]{7}(?:[0-9a-v]{2})?)_/.exec(value)?.[1] ?? ''}${createHmac('sha256', key).update(value.slice(0, value.length - 44)).digest('base64url')}`;
