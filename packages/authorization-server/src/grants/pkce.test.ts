import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CODE_VERIFIER, S256_CODE_CHALLENGE, verifierMatchesChallenge } from './pkce.ts';

// RFC 7636 Appendix B.
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const s256 = (verifier: string) => createHash('sha256').update(verifier, 'ascii').digest('base64url');

describe('PKCE S256', () => {
  it('accepts the RFC 7636 Appendix B test vector (RFC 7636 §4.6)', () => {
    assert.equal(s256(VERIFIER), CHALLENGE);
    assert.equal(verifierMatchesChallenge(VERIFIER, CHALLENGE), true);
  });

  it('refuses a verifier that does not match the challenge (RFC 7636 §4.6)', () => {
    assert.equal(verifierMatchesChallenge(VERIFIER.slice(0, -1) + 'j', CHALLENGE), false);
    assert.equal(verifierMatchesChallenge(randomBytes(32).toString('base64url'), CHALLENGE), false);
    // The plain method (challenge = verifier) is not accepted as if it were S256 (SPEC decision 2).
    assert.equal(verifierMatchesChallenge(VERIFIER, VERIFIER), false);
    assert.equal(verifierMatchesChallenge(VERIFIER, CHALLENGE.slice(1)), false);
    assert.equal(verifierMatchesChallenge(VERIFIER, ''), false);
  });

  it('matches random verifiers against their own challenges only', () => {
    for (let i = 0; i < 20; i++) {
      const verifier = randomBytes(32 + i).toString('base64url');
      assert.equal(verifierMatchesChallenge(verifier, s256(verifier)), true);
      assert.equal(verifierMatchesChallenge(verifier, s256(verifier + 'x')), false);
    }
  });

  it('compares the challenge as a string: a non-canonical base64url spelling does not match (RFC 7636 §4.6 "==")', () => {
    assert.equal(verifierMatchesChallenge(VERIFIER, CHALLENGE.slice(0, -1) + 'N'), false);
  });

  it('CODE_VERIFIER takes 43 to 128 characters (RFC 7636 §4.1)', () => {
    assert.equal(CODE_VERIFIER.test('a'.repeat(42)), false);
    assert.equal(CODE_VERIFIER.test('a'.repeat(43)), true);
    assert.equal(CODE_VERIFIER.test('a'.repeat(128)), true);
    assert.equal(CODE_VERIFIER.test('a'.repeat(129)), false);
    assert.equal(CODE_VERIFIER.test(''), false);
    assert.equal(CODE_VERIFIER.test(VERIFIER), true);
  });

  it('CODE_VERIFIER takes only unreserved characters A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)', () => {
    const base = 'a'.repeat(42);
    for (const allowed of ['A', 'Z', 'a', 'z', '0', '9', '-', '.', '_', '~']) assert.equal(CODE_VERIFIER.test(base + allowed), true, allowed);
    for (const refused of ['+', '/', '=', ' ', '%', '!', '*', '\n', '\t', 'é', '\u0000', '😀']) {
      assert.equal(CODE_VERIFIER.test(base + refused), false, JSON.stringify(refused));
    }
    assert.equal(CODE_VERIFIER.test(`${'a'.repeat(43)}\n`), false);
    assert.equal(CODE_VERIFIER.test('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~'), true);
  });

  it('S256_CODE_CHALLENGE takes exactly 43 base64url characters, unpadded (RFC 7636 §4.2)', () => {
    assert.equal(S256_CODE_CHALLENGE.test(CHALLENGE), true);
    assert.equal(S256_CODE_CHALLENGE.test(s256(randomBytes(32).toString('base64url'))), true);
    assert.equal(S256_CODE_CHALLENGE.test(CHALLENGE.slice(1)), false);
    assert.equal(S256_CODE_CHALLENGE.test(CHALLENGE + 'A'), false);
    assert.equal(S256_CODE_CHALLENGE.test(`${CHALLENGE}=`), false);
    assert.equal(S256_CODE_CHALLENGE.test(CHALLENGE.replace('-', '+')), false);
    assert.equal(S256_CODE_CHALLENGE.test(CHALLENGE.replace('-', '/')), false);
    assert.equal(S256_CODE_CHALLENGE.test(CHALLENGE.replace('-', '.')), false);
    assert.equal(S256_CODE_CHALLENGE.test(`${CHALLENGE}\n`), false);
    // A plain challenge (the verifier itself) of other lengths is refused by shape.
    assert.equal(S256_CODE_CHALLENGE.test('a'.repeat(128)), false);
  });
});
