import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { authenticator } from 'otplib';
import { decryptTotpSecret, encryptTotpSecret, newRecoveryCodes, newTotpSecret, recoveryCodeDigest, secondFactorKey, totpTimeStep } from './second-factor.ts';

const NOW = 1_800_000_000;
const codeAt = (secret: string, seconds: number) => authenticator.clone({ epoch: seconds * 1000 }).generate(secret);

describe('TOTP second factor (RFC 6238)', () => {
  it('stores the secret only encrypted (AES-256-GCM), bound to its user', () => {
    const key = secondFactorKey(randomBytes(32));
    const secret = newTotpSecret();
    const stored = encryptTotpSecret(key, 'user-a', secret);
    assert.ok(!stored.includes(secret));
    assert.equal(decryptTotpSecret(key, 'user-a', stored), secret);
    assert.throws(() => decryptTotpSecret(key, 'user-b', stored), 'another user\'s ciphertext does not decrypt');
    assert.throws(() => decryptTotpSecret(secondFactorKey(randomBytes(32)), 'user-a', stored), 'another key does not decrypt');
  });
  it('accepts a code in its step and one step either side, and names the step (RFC 6238 §5.2)', () => {
    const secret = newTotpSecret();
    const step = Math.floor(NOW / 30);
    assert.equal(totpTimeStep(secret, codeAt(secret, NOW), NOW), step);
    assert.equal(totpTimeStep(secret, codeAt(secret, NOW - 30), NOW), step - 1);
    assert.equal(totpTimeStep(secret, codeAt(secret, NOW + 30), NOW), step + 1);
    assert.equal(totpTimeStep(secret, codeAt(secret, NOW - 90), NOW), undefined);
    assert.equal(totpTimeStep(secret, ` ${codeAt(secret, NOW).replace(/^(...)/, '$1 ')} `, NOW), step, 'spaces are ignored');
    assert.equal(totpTimeStep(secret, codeAt(secret, NOW).slice(0, 5), NOW), undefined, 'five digits');
    assert.equal(totpTimeStep(secret, `${codeAt(secret, NOW)}0`, NOW), undefined, 'seven digits');
    assert.equal(totpTimeStep(secret, codeAt(secret, NOW + 60), NOW), undefined, 'two steps ahead');
    assert.equal(totpTimeStep(secret, 'abcdef', NOW), undefined);
  });
  it('gives ten distinct recovery codes whose digest ignores case and the dash', () => {
    const codes = newRecoveryCodes();
    assert.equal(new Set(codes).size, 10);
    assert.equal(recoveryCodeDigest(codes[0]!.toUpperCase().replace('-', '')), recoveryCodeDigest(codes[0]!));
  });
});
