/**
 * The token store contract suite: every backend (`memory`, `sqlite`, `postgres`) must pass it.
 * Rows hold placeholder ciphertext; encryption is tested at the client level.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { NewStoredConnection, StoredConnection, TokenStore } from '../token-store.ts';

export interface TokenStoreFixture {
  store: TokenStore;
  /** Drops what the fixture created. */
  dispose(): Promise<void>;
}

const row = (connectionId: string, overrides: Partial<NewStoredConnection> = {}): NewStoredConnection => ({
  connectionId,
  issuer: 'http://127.0.0.1:3000',
  clientId: '7af385a0-284d-48c5-b225-362862085551',
  subjectUrn: 'urn:gatehouse:company:d4290d20-6495-471e-bcac-5d9e0a4d844e',
  scope: 'users:read vendors:read',
  status: 'active',
  statusReason: null,
  accessTokenCiphertext: 'v1.k.access-1',
  refreshTokenCiphertext: 'v1.k.refresh-1',
  accessTokenExpiresAt: 1_800_000_900,
  dpopKeyCiphertext: null,
  createdAt: 1_800_000_000,
  updatedAt: 1_800_000_000,
  ...overrides,
});

const update = (n: number) => ({
  accessTokenCiphertext: `v1.k.access-${n}`,
  refreshTokenCiphertext: `v1.k.refresh-${n}`,
  accessTokenExpiresAt: 1_800_000_900 + n,
  scope: 'users:read',
  updatedAt: 1_800_000_000 + n,
});

export function describeTokenStoreContract(name: string, open: () => Promise<TokenStoreFixture>, skip?: string): void {
  describe(`TokenStore contract: ${name}`, { skip: skip ?? false }, () => {
    let fixture: TokenStoreFixture;
    let store: TokenStore;
    beforeEach(async () => {
      fixture = await open();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    it('saves a connection at version 1 with a new generation, reads it back and lists connections by id', async () => {
      const saved = await store.save(row('b'));
      assert.equal(typeof saved.generation, 'string');
      assert.deepEqual(saved, { ...row('b'), version: 1, generation: saved.generation });
      assert.deepEqual(await store.get('b'), saved);
      const other = await store.save(row('a'));
      assert.notEqual(other.generation, saved.generation);
      assert.deepEqual((await store.list()).map((connection) => connection.connectionId), ['a', 'b']);
      assert.equal(await store.get('missing'), undefined);
    });

    it('replaces a connection saved again under its id (reconnect): new tokens, version bumped, createdAt and generation kept', async () => {
      const first = await store.save(row('a'));
      await store.markReauthorizationRequired('a', first, 'invalid_grant', 1_800_000_100);
      const again = await store.save(row('a', { accessTokenCiphertext: 'v1.k.access-new', createdAt: 1_800_000_500, updatedAt: 1_800_000_500 }));
      assert.equal(again.version, 3);
      assert.equal(again.generation, first.generation);
      assert.equal(again.createdAt, 1_800_000_000);
      assert.equal(again.updatedAt, 1_800_000_500);
      assert.equal(again.status, 'active');
      assert.equal(again.statusReason, null);
      assert.equal(again.accessTokenCiphertext, 'v1.k.access-new');
      assert.equal(await store.replaceTokens('a', { ...first, version: 2 }, update(4)), undefined, 'a write holding the replaced version writes nothing');
    });

    it('replaceTokens writes both tokens together at the expected version only', async () => {
      const saved = await store.save(row('a'));
      const next = await store.replaceTokens('a', saved, update(2));
      assert.deepEqual(next, { ...row('a'), ...update(2), version: 2, generation: saved.generation });
      assert.equal(await store.replaceTokens('a', saved, update(3)), undefined, 'a stale version writes nothing');
      assert.deepEqual(await store.get('a'), next);
      assert.equal(await store.replaceTokens('missing', saved, update(3)), undefined);
    });

    it('exactly one of many concurrent replaceTokens at one version succeeds', async () => {
      const saved = await store.save(row('a'));
      const results = await Promise.all(Array.from({ length: 10 }, (_, index) => store.replaceTokens('a', saved, update(index + 10))));
      const winners = results.filter((result) => result !== undefined);
      assert.equal(winners.length, 1);
      assert.deepEqual(await store.get('a'), winners[0]);
    });

    it('markReauthorizationRequired deletes both tokens and the expiry in the same write, at the expected version only', async () => {
      const saved = await store.save(row('a'));
      assert.equal(await store.markReauthorizationRequired('a', { ...saved, version: 7 }, 'invalid_grant', 1_800_000_100), undefined);
      const marked = await store.markReauthorizationRequired('a', saved, 'invalid_grant: revoked', 1_800_000_100);
      assert.deepEqual(marked, {
        ...row('a'), status: 'reauthorization_required', statusReason: 'invalid_grant: revoked',
        accessTokenCiphertext: null, refreshTokenCiphertext: null, accessTokenExpiresAt: null, dpopKeyCiphertext: null, updatedAt: 1_800_000_100, version: 2,
        generation: saved.generation,
      });
      assert.equal(await store.replaceTokens('a', marked!, update(3)), undefined, 'tokens are not written to a connection that needs re-authorization');
    });

    it('keeps the DPoP key with the tokens (RFC 9449): saved, set once by a refresh, kept by later ones, deleted with the tokens', async () => {
      const saved = await store.save(row('a', { dpopKeyCiphertext: 'v1.k.key-1' }));
      assert.equal(saved.dpopKeyCiphertext, 'v1.k.key-1');
      const refreshed = await store.replaceTokens('a', saved, update(2));
      assert.equal(refreshed?.dpopKeyCiphertext, 'v1.k.key-1', 'a refresh without a new key keeps it');
      const b = await store.save(row('b'));
      const b2 = await store.replaceTokens('b', b, { ...update(2), dpopKeyCiphertext: 'v1.k.key-b' });
      assert.equal(b2?.dpopKeyCiphertext, 'v1.k.key-b');
      assert.equal((await store.replaceTokens('b', b2!, update(3)))?.dpopKeyCiphertext, 'v1.k.key-b');
      assert.deepEqual(await store.get('b'), { ...row('b'), ...update(3), dpopKeyCiphertext: 'v1.k.key-b', version: 3, generation: b.generation });
      assert.equal((await store.markReauthorizationRequired('a', refreshed!, 'invalid_grant', 1_800_000_100))?.dpopKeyCiphertext, null);
      assert.equal((await store.save(row('a')))?.dpopKeyCiphertext, null, 'a reconnect without a key leaves none');
    });

    it('a write holding a row read before its delete never applies to a connection saved again under its id', async () => {
      const first = await store.save(row('a'));
      // What a refresh read (its lock lost meanwhile): then `revoke` deletes the row and a new connect saves it again.
      const before = (await store.replaceTokens('a', first, update(2)))!;
      assert.equal(before.version, 2);
      assert.equal(await store.delete('a'), true);
      const recreated = await store.save(row('a', { accessTokenCiphertext: 'v1.k.access-new', refreshTokenCiphertext: 'v1.k.refresh-new' }));
      assert.equal(recreated.version, 1, 'a new row starts at 1 again');
      assert.notEqual(recreated.generation, before.generation);
      const current = (await store.replaceTokens('a', recreated, { ...update(5), accessTokenCiphertext: 'v1.k.access-new-2', refreshTokenCiphertext: 'v1.k.refresh-new-2' }))!;
      assert.equal(current.version, before.version, 'the new row is at the version read before the delete');
      assert.equal(await store.replaceTokens('a', before, update(3)), undefined, 'the old grant\'s pair is not written over the new tokens');
      assert.equal(await store.markReauthorizationRequired('a', before, 'invalid_grant', 1_800_000_100), undefined, 'the new connection is not marked');
      assert.deepEqual(await store.get('a'), current);
      assert.equal(current.accessTokenCiphertext, 'v1.k.access-new-2');
    });

    it('deletes a connection once', async () => {
      await store.save(row('a'));
      assert.equal(await store.delete('a'), true);
      assert.equal(await store.delete('a'), false);
      assert.equal(await store.get('a'), undefined);
    });
  });
}

/**
 * A row stored before generations existed (generation null), as a store of this SDK finds it in an older table:
 * it is written at its version, a reconnect keeps counting, and once deleted and saved again under its id, what was
 * read of it matches no new row. `read` is the old row `a` as the store read it. Shared by the SQLite and
 * PostgreSQL stores' tests of tables created before the generation column.
 */
export async function assertRowFromBeforeGenerations(store: TokenStore, read: StoredConnection): Promise<void> {
  const tokens = (n: number) => ({
    accessTokenCiphertext: `v1.k.a${n}`, refreshTokenCiphertext: `v1.k.r${n}`, accessTokenExpiresAt: 1_800_001_000, scope: 'users:read', updatedAt: 1_800_000_100,
  });
  const refreshed = (await store.replaceTokens('a', read, tokens(2)))!;
  assert.deepEqual([refreshed.version, refreshed.generation], [2, null], 'an old row is written at its version');
  const reconnected = await store.save({ ...refreshed, accessTokenCiphertext: 'v1.k.a3' });
  assert.deepEqual([reconnected.version, reconnected.generation], [3, null], 'a reconnect keeps counting');
  assert.equal(await store.delete('a'), true);
  const recreated = await store.save({ ...read, createdAt: 1_800_000_500, updatedAt: 1_800_000_500 });
  assert.equal(typeof recreated.generation, 'string');
  const current = (await store.replaceTokens('a', recreated, tokens(4)))!;
  const again = (await store.replaceTokens('a', current, tokens(5)))!;
  assert.equal(again.version, reconnected.version);
  assert.equal(await store.replaceTokens('a', reconnected, tokens(6)), undefined, 'what was read of the old row matches no new row');
  assert.equal(await store.markReauthorizationRequired('a', reconnected, 'invalid_grant', 1_800_000_600), undefined);
  assert.deepEqual(await store.get('a'), again);
}
