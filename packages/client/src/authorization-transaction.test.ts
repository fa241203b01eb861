/**
 * Review item 11: the authorization transaction holds the PKCE code verifier and the state; printed (a
 * debug log of a session) it showed them. It now prints redacted, as ConnectionTokens does, while staying
 * plain JSON for the session store that keeps it until the callback.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { startFakeAuthorizationServer, type FakeAuthorizationServer } from './testing/fake-authorization-server.ts';
import { connectThroughFake } from './testing/fake-connection.ts';

describe('the authorization transaction', () => {
  let fake: FakeAuthorizationServer;
  beforeEach(async () => {
    fake = await startFakeAuthorizationServer();
  });
  afterEach(async () => {
    await fake.close();
  });

  it('prints without its state and code verifier, and round-trips through JSON whole', async () => {
    const { client } = await connectThroughFake(fake);
    const { transaction } = await client.authorizationUrl();
    const printed = inspect(transaction);
    assert.ok(!printed.includes(transaction.codeVerifier) && !printed.includes(transaction.state), printed);
    assert.match(printed, /"codeVerifier":"\[redacted\]"/);
    assert.ok(!inspect({ session: { transaction } }).includes(transaction.codeVerifier), 'nested too');
    const restored = JSON.parse(JSON.stringify(transaction));
    assert.equal(restored.state, transaction.state);
    assert.equal(restored.codeVerifier, transaction.codeVerifier);
  });

  it('as its docstring says, copies lose the redaction (JSON round trip, spread, structuredClone)', async () => {
    const { client } = await connectThroughFake(fake);
    const { transaction } = await client.authorizationUrl();
    for (const copy of [JSON.parse(JSON.stringify(transaction)), { ...transaction }, structuredClone(transaction)]) {
      assert.ok(inspect(copy).includes(transaction.codeVerifier));
    }
  });
});
