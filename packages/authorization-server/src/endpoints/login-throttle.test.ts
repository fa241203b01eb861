import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLoginThrottle } from './login-throttle.ts';

const T0 = 1_800_000_000;
const ACCOUNT = 'account:alice@example.com';
const ADDRESS = 'address:192.0.2.7';

describe('login throttle (SPEC decision 18: rate-limited per account and address)', () => {
  it('allows attempts until maxFailures failures fall in one window', () => {
    const throttle = createLoginThrottle({ maxFailures: 3, windowSeconds: 900 });
    assert.equal(throttle.retryAfterSeconds([ACCOUNT, ADDRESS], T0), 0);
    throttle.recordFailure([ACCOUNT, ADDRESS], T0);
    throttle.recordFailure([ACCOUNT, ADDRESS], T0 + 10);
    assert.equal(throttle.retryAfterSeconds([ACCOUNT, ADDRESS], T0 + 10), 0);
    throttle.recordFailure([ACCOUNT, ADDRESS], T0 + 20);
    assert.equal(throttle.retryAfterSeconds([ACCOUNT, ADDRESS], T0 + 20), 880);
  });

  it('counts the window from the first failure: a fixed window, not sliding', () => {
    const throttle = createLoginThrottle({ maxFailures: 2, windowSeconds: 100 });
    throttle.recordFailure([ACCOUNT], T0);
    throttle.recordFailure([ACCOUNT], T0 + 90);
    assert.equal(throttle.retryAfterSeconds([ACCOUNT], T0 + 90), 10);
    // More failures while blocked do not extend the window.
    throttle.recordFailure([ACCOUNT], T0 + 95);
    assert.equal(throttle.retryAfterSeconds([ACCOUNT], T0 + 95), 5);
    assert.equal(throttle.retryAfterSeconds([ACCOUNT], T0 + 99), 1);
  });

  it('reopens exactly when the window ends, and a new failure starts a fresh window', () => {
    const throttle = createLoginThrottle({ maxFailures: 2, windowSeconds: 100 });
    throttle.recordFailure([ACCOUNT], T0);
    throttle.recordFailure([ACCOUNT], T0 + 1);
    assert.equal(throttle.retryAfterSeconds([ACCOUNT], T0 + 99), 1);
    assert.equal(throttle.retryAfterSeconds([ACCOUNT], T0 + 100), 0);
    throttle.recordFailure([ACCOUNT], T0 + 100);
    assert.equal(throttle.retryAfterSeconds([ACCOUNT], T0 + 100), 0, 'one failure in the new window');
    throttle.recordFailure([ACCOUNT], T0 + 150);
    assert.equal(throttle.retryAfterSeconds([ACCOUNT], T0 + 150), 50);
  });

  it('forgets failures older than the window', () => {
    const throttle = createLoginThrottle({ maxFailures: 2, windowSeconds: 100 });
    throttle.recordFailure([ACCOUNT], T0);
    throttle.recordFailure([ACCOUNT], T0 + 100); // the first window is over: this opens a new one
    assert.equal(throttle.retryAfterSeconds([ACCOUNT], T0 + 100), 0);
  });

  it('blocks when any one key is over its limit, and answers the longest wait', () => {
    const throttle = createLoginThrottle({ maxFailures: 2, windowSeconds: 100 });
    // One address trying many accounts.
    throttle.recordFailure(['account:a', ADDRESS], T0);
    throttle.recordFailure(['account:b', ADDRESS], T0 + 30);
    assert.equal(throttle.retryAfterSeconds(['account:c', ADDRESS], T0 + 30), 70);
    assert.equal(throttle.retryAfterSeconds(['account:c', 'address:198.51.100.1'], T0 + 30), 0);
    // Many addresses trying one account.
    throttle.recordFailure([ACCOUNT, 'address:198.51.100.1'], T0 + 40);
    throttle.recordFailure([ACCOUNT, 'address:198.51.100.2'], T0 + 60);
    assert.equal(throttle.retryAfterSeconds([ACCOUNT, 'address:198.51.100.3'], T0 + 60), 80);
    // Both over: the longer wait wins.
    assert.equal(throttle.retryAfterSeconds([ACCOUNT, ADDRESS], T0 + 60), 80);
  });

  it('reset clears one key only (a successful login clears its account)', () => {
    const throttle = createLoginThrottle({ maxFailures: 1, windowSeconds: 100 });
    throttle.recordFailure([ACCOUNT, ADDRESS], T0);
    throttle.reset(ACCOUNT);
    assert.equal(throttle.retryAfterSeconds([ACCOUNT], T0 + 1), 0);
    assert.equal(throttle.retryAfterSeconds([ADDRESS], T0 + 1), 99);
    throttle.reset('account:unknown');
  });

  it('keeps a bounded number of keys, dropping the oldest window first', () => {
    const throttle = createLoginThrottle({ maxFailures: 1, windowSeconds: 100 }, 2);
    throttle.recordFailure(['k1'], T0);
    throttle.recordFailure(['k2'], T0 + 1);
    throttle.recordFailure(['k3'], T0 + 2);
    assert.equal(throttle.retryAfterSeconds(['k1'], T0 + 2), 0, 'k1 was dropped');
    assert.equal(throttle.retryAfterSeconds(['k2'], T0 + 2), 99);
    assert.equal(throttle.retryAfterSeconds(['k3'], T0 + 2), 100);
  });
});
