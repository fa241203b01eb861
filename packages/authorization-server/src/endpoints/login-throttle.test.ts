import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import { createLoginThrottle, loginThrottleKeys } from './login-throttle.ts';

// The counting rules themselves are the storage contract's (storage-contract.ts, "loginThrottle"), run on
// every backend; these tests cover what the login endpoint adds: its keys and what success clears.
const T0 = 1_800_000_000;
const alice = loginThrottleKeys('alice@example.com', '192.0.2.7');

describe('login throttle (SPEC decision 18: rate-limited per account and address)', () => {
  it('keys an attempt by a SHA-256 of the e-mail (no address kept in the throttle table) and by the client address', () => {
    assert.deepEqual(alice, {
      account: `account:${createHash('sha256').update('alice@example.com').digest('base64url')}`,
      address: 'address:192.0.2.7',
    });
    assert.ok(!alice.account.includes('alice'));
    assert.notEqual(loginThrottleKeys('bob@example.com', '192.0.2.7').account, alice.account);
  });

  it('allows attempts until maxFailures failures fall in one window, then answers the wait', async () => {
    const storage = createSqliteStorage(':memory:');
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 900 }, storage.loginThrottle);
    assert.equal(await throttle.attempt(alice, T0), 0);
    assert.equal(await throttle.attempt(alice, T0 + 10), 0);
    assert.equal(await throttle.attempt(alice, T0 + 20), 0);
    assert.equal(await throttle.attempt(alice, T0 + 20), 880);
    // Another account from the same address is refused too (the address is over its limit).
    assert.equal(await throttle.attempt(loginThrottleKeys('bob@example.com', '192.0.2.7'), T0 + 30), 870);
    // The same account from another address as well (the account is over its limit).
    assert.equal(await throttle.attempt(loginThrottleKeys('alice@example.com', '198.51.100.1'), T0 + 30), 870);
    await storage.close();
  });

  it('a success takes its own attempt back from the address and clears the account', async () => {
    const storage = createSqliteStorage(':memory:');
    const throttle = createLoginThrottle({ maxFailures: 2, windowSeconds: 100 }, storage.loginThrottle);
    assert.equal(await throttle.attempt(alice, T0), 0); // a failure
    assert.equal(await throttle.attempt(alice, T0 + 1), 0); // the attempt that succeeds
    await throttle.succeeded(alice, T0 + 1);
    // The account starts over; the address still holds the one real failure.
    const sameAccountElsewhere = loginThrottleKeys('alice@example.com', '198.51.100.1');
    assert.equal(await throttle.attempt(sameAccountElsewhere, T0 + 2), 0);
    assert.equal(await throttle.attempt(sameAccountElsewhere, T0 + 3), 0);
    assert.equal(await throttle.attempt(sameAccountElsewhere, T0 + 4), 98, 'two fresh failures on the account, in a window from T0 + 2');
    const otherAccount = loginThrottleKeys('bob@example.com', '192.0.2.7');
    assert.equal(await throttle.attempt(otherAccount, T0 + 5), 0, 'the address had one failure left');
    assert.equal(await throttle.attempt(otherAccount, T0 + 6), 94);
    await storage.close();
  });
});
