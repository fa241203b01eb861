/**
 * PKCE, S256 only (RFC 7636; SPEC decision 2; seeds: "Only the S256 code challenge method is supported").
 */
import { createHash } from 'node:crypto';
import { constantTimeEqual } from '@gatehouse/protocol';

/** RFC 7636 §4.1: code_verifier = 43*128unreserved. */
export const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** RFC 7636 §4.2: an S256 challenge is BASE64URL(SHA256(verifier)), 43 characters. */
export const S256_CODE_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * RFC 7636 §4.6: the S256 challenge of a verifier, BASE64URL-ENCODE(SHA256(ASCII(code_verifier))). A challenge
 * is public (the authorization request carried it), so comparing it needs no constant time; the verifier is
 * what must stay secret, and only its hash leaves this function.
 */
export function challengeOf(codeVerifier: string): string {
  return createHash('sha256').update(codeVerifier, 'ascii').digest('base64url');
}

/** RFC 7636 §4.6: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge, compared as strings in constant time. */
export function verifierMatchesChallenge(codeVerifier: string, codeChallenge: string): boolean {
  return constantTimeEqual(challengeOf(codeVerifier), codeChallenge);
}
