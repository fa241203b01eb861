import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressKey, createRefusalLimit } from './refusal-limit.ts';

describe('createRefusalLimit (per address, one-minute windows)', () => {
  it('answers 0 until the limit, then the seconds left in the window; the next window starts afresh', () => {
    let nowMs = 1_000_000;
    const limit = createRefusalLimit(3, () => nowMs)!;
    for (let i = 0; i < 3; i++) {
      assert.equal(limit.retryAfterSeconds('192.0.2.1'), 0);
      limit.refused('192.0.2.1');
    }
    assert.equal(limit.retryAfterSeconds('192.0.2.1'), 60);
    assert.equal(limit.retryAfterSeconds('192.0.2.2'), 0, 'another address');
    nowMs += 45_500;
    assert.equal(limit.retryAfterSeconds('192.0.2.1'), 15);
    nowMs += 15_000;
    assert.equal(limit.retryAfterSeconds('192.0.2.1'), 0, 'the window ended');
  });

  it('keeps no window for an address that was only checked, and at most maxAddresses windows, the oldest dropped', () => {
    let nowMs = 0;
    const limit = createRefusalLimit(1, () => nowMs, 100)!;
    for (let i = 0; i < 1_000; i++) assert.equal(limit.retryAfterSeconds(`10.0.${i >> 8}.${i & 255}`), 0);
    for (let i = 0; i < 150; i++) {
      nowMs += 1;
      limit.refused(`10.1.0.${i}`);
    }
    assert.equal(limit.retryAfterSeconds('10.1.0.149'), 60, 'the newest is kept');
    assert.equal(limit.retryAfterSeconds('10.1.0.0'), 0, 'the oldest was dropped');
  });

  it('lets an address have at most maxChecksInFlight checks running; finish frees one', () => {
    const limit = createRefusalLimit(30, () => 0, 100, 3)!;
    assert.deepEqual([limit.start('192.0.2.1'), limit.start('192.0.2.1'), limit.start('192.0.2.1'), limit.start('192.0.2.1')], [true, true, true, false]);
    assert.equal(limit.start('192.0.2.2'), true, 'another address');
    limit.finish('192.0.2.1');
    assert.equal(limit.start('192.0.2.1'), true);
    assert.equal(limit.retryAfterSeconds('192.0.2.1'), 0, 'checks in flight are not refusals');
  });

  it('is off with 0, and refuses a negative or fractional limit', () => {
    assert.equal(createRefusalLimit(0, Date.now), undefined);
    assert.throws(() => createRefusalLimit(-1, Date.now), TypeError);
    assert.throws(() => createRefusalLimit(1.5, Date.now), TypeError);
  });
});

describe('addressKey', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6, and groups IPv6 by /64 whatever its spelling', () => {
    assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:0DB8:0001:0002:ffff:0:0:9'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('::1'), '::1', 'loopback counts alone');
    assert.equal(addressKey('::ffff:c633:6407'), '198.51.100.7', 'IPv4-mapped written in hex');
    assert.equal(addressKey('0:0:0:0:0:ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(addressKey('2001::2:3:4:5:1.2.3.4'), '2001:0:2:3::/64', 'an embedded IPv4 address is two groups');
  });
});
