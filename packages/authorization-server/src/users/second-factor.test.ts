import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { authenticator } from 'otplib';
import {
  decryptTotpSecret, encryptTotpSecret, legacyRecoveryCodeDigest, newRecoveryCodes, newTotpSecret, recoveryCodeDigest, recoveryCodeKey, secondFactorKey, totpTimeStep,
} from './second-factor.ts';

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
    const key = recoveryCodeKey(randomBytes(32));
    assert.equal(recoveryCodeDigest(key, 'user-a', codes[0]!.toUpperCase().replace('-', '')), recoveryCodeDigest(key, 'user-a', codes[0]!));
    assert.equal(legacyRecoveryCodeDigest(` ${codes[0]!.toUpperCase()} `), legacyRecoveryCodeDigest(codes[0]!));
  });
  it('keys a recovery code\'s digest with the server\'s key and binds it to its user (50 bits are too few for a plain hash)', () => {
    const tokenHmacKey = randomBytes(32);
    const key = recoveryCodeKey(tokenHmacKey);
    const [code] = newRecoveryCodes();
    const digest = recoveryCodeDigest(key, 'user-a', code!);
    assert.match(digest, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!digest.includes(code!.replace('-', '')));
    assert.notEqual(recoveryCodeDigest(key, 'user-b', code!), digest, 'another user');
    assert.notEqual(recoveryCodeDigest(recoveryCodeKey(randomBytes(32)), 'user-a', code!), digest, 'another server key');
    assert.notEqual(legacyRecoveryCodeDigest(code!), digest, 'not the unkeyed SHA-256');
    assert.notDeepEqual(key, tokenHmacKey.subarray(0, 32), 'a derived key, not the token HMAC key');
  });
});
