import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { createSqliteStorage } from '../storage/sqlite/sqlite-storage.ts';
import { createLoginThrottle, DEFAULT_LOGIN_THROTTLE_RULES, loginThrottleKeys, resolveLoginThrottleRules } from './login-throttle.ts';

// The delay arithmetic itself is the storage contract's (storage/contract/login-throttle.ts, "loginThrottle.attempt"), run
// on every backend; these tests cover what the login endpoint adds: its keys, its rules, what success clears.
const T0 = 1_800_000_000;
const OFFICE = '192.0.2.7';
const accountHash = createHash('sha256').update('alice@example.com').digest('base64url');
const alice = loginThrottleKeys('alice@example.com', OFFICE);

describe('login throttle (SPEC decision 18, issue 10 §3: growing delays, no lockout of the office)', () => {
  it('keys an attempt by (account, address), account and address, the account as a SHA-256 of the e-mail (no address kept in the throttle table)', () => {
    assert.deepEqual(alice, { accountAddress: `pair:${accountHash}:${OFFICE}`, account: `account:${accountHash}`, address: `address:${OFFICE}` });
    assert.ok(!JSON.stringify(alice).includes('alice'));
    assert.deepEqual(loginThrottleKeys('alice@example.com', OFFICE, 'DEVICE').knownDevice, `device:DEVICE:${accountHash}`);
  });

  it('defaults: 5 free failures per account and address, 20 per account, 100 per address; loginRateLimit sets the first', () => {
    assert.equal(DEFAULT_LOGIN_THROTTLE_RULES.accountAddress.freeFailures, 5);
    assert.equal(DEFAULT_LOGIN_THROTTLE_RULES.account.freeFailures, 20);
    assert.equal(DEFAULT_LOGIN_THROTTLE_RULES.address.freeFailures, 100);
    const rules = resolveLoginThrottleRules({ maxFailures: 3, windowSeconds: 600 });
    assert.deepEqual(rules.accountAddress, { ...DEFAULT_LOGIN_THROTTLE_RULES.accountAddress, freeFailures: 3, maxDelaySeconds: 600 });
    assert.deepEqual(resolveLoginThrottleRules(undefined, { address: DEFAULT_LOGIN_THROTTLE_RULES.account }).address, DEFAULT_LOGIN_THROTTLE_RULES.account);
  });

  it('slows one account guessed from one address with a delay doubling after each failure, never a lockout', async () => {
    const storage = createSqliteStorage(':memory:');
    const throttle = createLoginThrottle(DEFAULT_LOGIN_THROTTLE_RULES, storage.loginThrottle);
    for (let i = 0; i < 5; i++) assert.equal(await throttle.attempt(alice, T0), 0);
    assert.equal(await throttle.attempt(alice, T0), 1);
    assert.equal(await throttle.attempt(alice, T0 + 1), 0);
    assert.equal(await throttle.attempt(alice, T0 + 1), 2);
    // The same address may still try another account; the same account from another address too.
    assert.equal(await throttle.attempt(loginThrottleKeys('bob@example.com', OFFICE), T0 + 1), 0);
    assert.equal(await throttle.attempt(loginThrottleKeys('alice@example.com', '198.51.100.1'), T0 + 1), 0);
    await storage.close();
  });

  it('a success forgets its (account, address) and takes its attempt back from the account and the address, keeping other failures', async () => {
    const storage = createSqliteStorage(':memory:');
    const rules = { ...DEFAULT_LOGIN_THROTTLE_RULES, account: { ...DEFAULT_LOGIN_THROTTLE_RULES.account, freeFailures: 3 } };
    const throttle = createLoginThrottle(rules, storage.loginThrottle);
    const attacker = loginThrottleKeys('alice@example.com', '203.0.113.9');
    assert.equal(await throttle.attempt(attacker, T0), 0);
    assert.equal(await throttle.attempt(attacker, T0), 0);
    assert.equal(await throttle.attempt(alice, T0), 0); // alice's own attempt, which succeeds
    await throttle.succeeded(alice, T0);
    assert.deepEqual((await storage.loginThrottle.attempt([{ key: alice.account, rule: rules.account }], T0)).failures, [3], "the attacker's 2 failures stay on the account");
    await storage.close();
  });

  it('counts a known device on its own key only: failures elsewhere on the account or the address never block it', async () => {
    const storage = createSqliteStorage(':memory:');
    const rules = { ...DEFAULT_LOGIN_THROTTLE_RULES, account: { ...DEFAULT_LOGIN_THROTTLE_RULES.account, freeFailures: 1 }, address: { ...DEFAULT_LOGIN_THROTTLE_RULES.address, freeFailures: 1 } };
    const throttle = createLoginThrottle(rules, storage.loginThrottle);
    assert.equal(await throttle.attempt(alice, T0), 0);
    assert.ok(await throttle.attempt(alice, T0) > 0, 'the account and the address must wait');
    const device = loginThrottleKeys('alice@example.com', OFFICE, 'DEVICE');
    assert.equal(await throttle.attempt(device, T0), 0);
    await throttle.succeeded(device, T0);
    assert.ok(await throttle.attempt(alice, T0) > 0, 'the known device cleared nothing of the others');
    await storage.close();
  });
});
