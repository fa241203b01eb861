/**
 * PostgreSQL's code exchanges in batches (issue 12, migration 38, postgres/statement-batches.ts): the
 * exchanges of one event-loop turn, and those that queue while others are in flight, go as one call of
 * gatehouse_exchange_ready_codes, each
 * still read, checked and redeemed on its own (RFC 6749 §4.1.2 single use, SPEC decisions 6 and 11).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { batchSizesDuring, createTestPostgresStorage, postgresSkipReason } from '../../testing/postgres.ts';
import { codeRecord, createCompany, digest, fixture, NOW, type Fixture } from '../contract/fixtures.ts';
import type { ExchangeReadyCodeResult, ReadyCodeConditions, Storage, TokenForCode } from '../storage.ts';

const skip = await postgresSkipReason();

const tokensFor = (): TokenForCode[] => [
  { tokenDigest: digest(), tokenId: randomUUID(), kind: 'access', expiresAt: NOW + 900 },
  { tokenDigest: digest(), tokenId: randomUUID(), kind: 'refresh', expiresAt: NOW + 86_400 },
];

describe('code exchanges in batches (PostgreSQL, migration 38)', { skip }, () => {
  let storage: Storage & { schema: string };
  let f: Fixture;
  let conditions: ReadyCodeConditions;
  before(async () => {
    storage = await createTestPostgresStorage();
    f = await fixture(storage);
    const code = codeRecord(f);
    conditions = { redirectUri: code.redirectUri, codeChallenge: code.codeChallenge, dpopJkt: null, defaultResourceScopes: code.scope };
  });
  after(() => storage?.close());

  /** A stored code for a company of its own (two grants of one company would supersede each other, SPEC decision 11). */
  const freshCode = async () => {
    const code = codeRecord(f, { subjectId: (await createCompany(storage)).subjectId, issuedAt: NOW, expiresAt: NOW + 60 });
    assert.equal(await storage.authorizationCodes.create(code), true);
    return code;
  };
  const exchange = (codeDigest: string, grantId = randomUUID(), overrides: Partial<ReadyCodeConditions> = {}) =>
    storage.grants.exchangeReadyCode(codeDigest, f.client.clientId, NOW + 1, { ...conditions, ...overrides }, grantId, tokensFor(), {
      type: 'token.issued', at: NOW + 1, actor: `client:${f.client.clientId}`, clientId: f.client.clientId, grantId, details: { grant_type: 'authorization_code' },
    });

  it('exchanges that arrive together share calls, and each stores its own grant, tokens and audit event', async () => {
    const codes = await Promise.all(Array.from({ length: 16 }, freshCode));
    const grantIds = codes.map(() => randomUUID());
    let results: ExchangeReadyCodeResult[] = [];
    const sizes = await batchSizesDuring('gatehouse_exchange_ready_codes', async () => {
      results = await Promise.all(codes.map((code, i) => exchange(code.codeDigest, grantIds[i])));
    });
    assert.deepEqual(results.map((result) => result.outcome), codes.map(() => 'issued'));
    assert.equal(sizes.reduce((a, b) => a + b, 0), 16);
    assert.ok(sizes.length < 16 && Math.max(...sizes) > 1, `batches of ${sizes.join(', ')}`);
    for (const [i, code] of codes.entries()) {
      const grant = await storage.grants.find(grantIds[i]!);
      assert.equal(grant?.subjectId, code.subjectId);
      const result = results[i]!;
      assert.ok(result.outcome === 'issued');
      for (const token of result.tokens) assert.equal((await storage.tokens.findByDigest(token.tokenDigest))?.grant.grantId, grantIds[i]);
      assert.equal((await storage.authorizationCodes.find(code.codeDigest, f.client.clientId))?.used, true);
    }
    const events = await storage.audit.list({ types: ['token.issued'], limit: 100 });
    assert.deepEqual(new Set(events.map((event) => event.grantId)), new Set(grantIds));
    assert.ok(events.every((event) => event.details?.scope === conditions.defaultResourceScopes.join(' ')), 'the code\'s scope in each event');
  });

  it('in one batch: the same code twice issues once, and an unknown code and a wrong redirect URI change nothing', async () => {
    const [first, second, third, twice, wrongUri] = await Promise.all(Array.from({ length: 5 }, freshCode));
    const unknown = digest();
    let results: ExchangeReadyCodeResult[] = [];
    const sizes = await batchSizesDuring('gatehouse_exchange_ready_codes', async () => {
      results = await Promise.all([
        exchange(first!.codeDigest), exchange(second!.codeDigest), // one turn: all seven go together when it ends
        exchange(third!.codeDigest), exchange(twice!.codeDigest), exchange(unknown), exchange(wrongUri!.codeDigest, randomUUID(), { redirectUri: 'https://elsewhere.example/cb' }),
        exchange(twice!.codeDigest),
      ]);
    });
    assert.deepEqual(sizes, [7], 'the turn\'s seven exchanges in one batch');
    assert.deepEqual(results.slice(0, 4).map((result) => result.outcome), ['issued', 'issued', 'issued', 'issued']);
    assert.deepEqual(results[4], { outcome: 'not_ready' });
    assert.equal(results[5]!.outcome, 'not_ready');
    assert.deepEqual((results[5] as { found?: { used: boolean } }).found?.used, false);
    assert.equal((await storage.authorizationCodes.find(wrongUri!.codeDigest, f.client.clientId))?.used, false, 'the refused code stays unused');
    // The second presentation of `twice`, after the first in the same transaction, reads it used: nothing more is issued.
    assert.equal(results[6]!.outcome, 'not_ready');
    assert.equal((results[6] as { found?: { used: boolean } }).found?.used, true);
    const live = await storage.grants.findActive(f.client.clientId, twice!.subjectType, twice!.subjectId);
    assert.equal(live?.grantId, (results[3] as { grant: { grantId: string } }).grant.grantId, 'one grant for the code');
  });
});
