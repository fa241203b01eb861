/**
 * API key values (issue 16; SPEC §3 "API keys, the documented alternative to OAuth").
 *
 * A value is `gak_<random>.<tag>`: `gak_` makes it recognisable (secret scanners, logs, support), `random`
 * is 256 bits (base64url, 43 characters) and `tag = HMAC-SHA-256(k0, "gak_<random>")` (base64url). Only
 * the tag is stored (SPEC decision 9), as for opaque tokens; it is checked in constant time before any
 * lookup, so forged or mistyped keys cost no I/O.
 *
 * Keyed by `k0`, the token keyring's original key (tokens/token-keyring.ts), not by the minting key of the
 * day: an API key may live for years, longer than the keyring keeps a rotated-out key, and `k0` is the
 * key the ring never drops (it also digests signed JWT access tokens). A leaked `k0` alone yields no key:
 * the stored tag cannot be inverted to the random part.
 */
import { randomBytes } from 'node:crypto';
import { constantTimeEqual } from '@gatehouse/protocol';
import type { OpaqueTokenCodec } from '../tokens/opaque-token.ts';
import type { ApiKeyRecord } from '../storage/storage.ts';

export const API_KEY_PREFIX = 'gak_';
/** RFC 7662 §2.1 `token_type_hint` (an extension value, RFC 7009 §4.1.2 registry style) and the `token_type` of introspection answers. */
export const API_KEY_TOKEN_TYPE = 'api_key';
/** How many characters of a value are stored and shown to tell keys apart (`gak_` and 6 of the random part, 36 bits). */
export const API_KEY_DISPLAY_PREFIX_LENGTH = 10;

const SHAPE = /^gak_[A-Za-z0-9_-]{43}\.([A-Za-z0-9_-]{43})$/;

/** A fresh key: the value (shown once, never stored), its digest and display prefix (stored). */
export function mintApiKey(codec: OpaqueTokenCodec): { value: string; digest: string; displayPrefix: string } {
  const body = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  const digest = codec.digestOfSignedValue(body);
  return { value: `${body}.${digest}`, digest, displayPrefix: body.slice(0, API_KEY_DISPLAY_PREFIX_LENGTH) };
}

/** Whether a presented credential claims to be an API key (its prefix); says nothing about validity. */
export function isApiKeyValue(value: string): boolean {
  return value.startsWith(API_KEY_PREFIX);
}

/** The digest to look up, or undefined when the value is malformed or its tag is forged (compared in constant time). */
export function apiKeyDigestOf(codec: OpaqueTokenCodec, value: string): string | undefined {
  const match = SHAPE.exec(value);
  if (!match) return undefined;
  const expected = codec.digestOfSignedValue(value.slice(0, value.length - 44));
  // Compare the base64url strings, not decoded bytes (see opaque-token.ts: unused bits of the last character).
  return constantTimeEqual(match[1]!, expected) ? expected : undefined;
}

export type ApiKeyState = 'active' | 'revoked' | 'expired';

/** `expired` on and after `expiresAt` (the same boundary as tokens, tokens/token-state.ts). */
export function apiKeyState(key: ApiKeyRecord, now: number): ApiKeyState {
  if (key.revokedAt !== null) return 'revoked';
  if (key.expiresAt !== null && now >= key.expiresAt) return 'expired';
  return 'active';
}
