/**
 * DPoP proof JWTs (RFC 9449 §4): the checks the authorization server (token endpoint, §5) and the
 * resource server (§7) both make, on `jose` (signature, `typ`, the embedded public key, its thumbprint).
 * What differs between them stays with the caller: the `jti` replay store, nonces (§8, §9), and what a
 * failed check is called on the wire (`invalid_dpop_proof` in a JSON body or a `WWW-Authenticate` header).
 *
 * Imported as `@gatehouse/protocol/dpop` so the rest of the vocabulary needs no `jose`.
 */
import { createHash } from 'node:crypto';
import { constantTimeEqual } from './constant-time.ts';
import { calculateJwkThumbprint, EmbeddedJWK, jwtVerify, type CryptoKey, type JWK } from 'jose';

/** RFC 9449 §4.2: the `typ` header of a proof. */
export const DPOP_PROOF_TYPE = 'dpop+jwt';
/**
 * RFC 9449 §4.3 item 5 / §5.1 `dpop_signing_alg_values_supported`: asymmetric algorithms only, never `none`
 * nor an HMAC. What the authorization server advertises and both parties accept.
 */
export const DPOP_SIGNING_ALGORITHMS: readonly string[] = ['ES256', 'EdDSA', 'RS256', 'PS256'];
/** RFC 9449 §4.3 item 11, §11.1: a proof is accepted this many seconds either side of its `iat`. */
export const DEFAULT_DPOP_PROOF_WINDOW_SECONDS = 60;

/** A check of RFC 9449 §4.3 failed. `description` is a fixed text, safe on the wire (never the proof's content). */
export class DpopProofError extends Error {
  readonly description: string;
  constructor(description: string) {
    super(`invalid DPoP proof: ${description}`);
    this.name = 'DpopProofError';
    this.description = description;
  }
}

export interface DpopProofExpectations {
  /** RFC 9449 §4.3 item 8: the request's method, e.g. `POST`. */
  htm: string;
  /** RFC 9449 §4.3 item 9: the request's URI; its query and fragment are ignored. */
  htu: string;
  /** Seconds since the epoch (the caller's injectable clock). */
  nowSeconds: number;
  /** Seconds either side of `iat`; default DEFAULT_DPOP_PROOF_WINDOW_SECONDS. */
  windowSeconds?: number;
  /** RFC 9449 §4.3 item 12 / §7: at a resource server, the access token the proof must name in `ath`. */
  accessToken?: string;
  /** Default DPOP_SIGNING_ALGORITHMS. */
  algorithms?: readonly string[];
}

export interface VerifiedDpopProof {
  /** RFC 9449 §6.1 / RFC 7638: base64url SHA-256 thumbprint of the proof's public key. */
  jkt: string;
  /** The proof's `jti`, for the caller's replay store (§11.1). */
  jti: string;
  /** Seconds since the epoch. */
  iat: number;
  /** RFC 9449 §8, §9: the nonce the proof carries, for the caller to check. */
  nonce: string | undefined;
}

/**
 * The one `DPoP` header value of a request, `undefined` when there is none.
 * @throws DpopProofError when the header is repeated (RFC 9449 §4.3 item 1: "exactly one").
 */
export function singleDpopHeader(value: string | string[] | undefined): string | undefined {
  if (Array.isArray(value) && value.length === 1) return singleDpopHeader(value[0]);
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return undefined;
  if (Array.isArray(value) || value.includes(',')) throw new DpopProofError('exactly one DPoP header is allowed');
  return value;
}

/** RFC 9449 §4.2 `ath`: base64url of the SHA-256 of the access token's ASCII value. */
export function accessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest('base64url');
}

/**
 * The public keys of recent proofs, imported once (issue 12): a client signs every proof with the same key,
 * so its proofs share one protected header (`typ`, `alg`, `jwk`), yet jose's EmbeddedJWK imports the `jwk`
 * anew for each (WebCrypto importKey), and the thumbprint is another digest: kept, a verification's CPU
 * went from ~240 to ~145 µs with ES256 and from ~200 to ~95 µs with RS256 (2,000 proofs of one key in
 * process, median of three rounds, on the shared 2-core machine). Keyed by the encoded protected header, which is all
 * EmbeddedJWK reads, so a hit resolves exactly the key a fresh import would. An entry is stored only once a
 * proof's signature verified with it and its `jwk` passed item 7; a failed import or verification stores
 * nothing, and a header that fails again is imported (and refused) again. Least recently used first out.
 */
const DPOP_KEY_CACHE_ENTRIES = 1_000;
/** Longer headers are not kept (a 4096-bit RSA key's header is about 1,100 characters). */
const DPOP_KEY_CACHE_MAX_HEADER_LENGTH = 2_048;
const dpopKeys = new Map<string, { key: CryptoKey; jkt: string }>();

function knownDpopKey(encodedHeader: string): { key: CryptoKey; jkt: string } | undefined {
  const known = dpopKeys.get(encodedHeader);
  if (known) {
    dpopKeys.delete(encodedHeader);
    dpopKeys.set(encodedHeader, known);
  }
  return known;
}

function rememberDpopKey(encodedHeader: string, entry: { key: CryptoKey; jkt: string }): void {
  if (encodedHeader.length > DPOP_KEY_CACHE_MAX_HEADER_LENGTH) return;
  dpopKeys.set(encodedHeader, entry);
  if (dpopKeys.size > DPOP_KEY_CACHE_ENTRIES) dpopKeys.delete(dpopKeys.keys().next().value!);
}

/**
 * RFC 9449 §4.3 "Checking DPoP Proofs", items 2–9, 11 and the `ath` half of 12 (the caller compares `jkt`
 * with the token's `cnf.jkt`, checks the nonce, item 10, and remembers the `jti`).
 * @throws DpopProofError naming the failed check.
 */
export async function verifyDpopProof(proof: string, expect: DpopProofExpectations): Promise<VerifiedDpopProof> {
  const algorithms = [...(expect.algorithms ?? DPOP_SIGNING_ALGORITHMS)];
  const windowSeconds = expect.windowSeconds ?? DEFAULT_DPOP_PROOF_WINDOW_SECONDS;
  let payload: Record<string, unknown>;
  let jwk: JWK;
  let key: CryptoKey;
  const encodedHeader = proof.slice(0, proof.indexOf('.'));
  const known = knownDpopKey(encodedHeader);
  try {
    // Items 2, 4, 5, 6: one well-formed JWS, `typ` dpop+jwt, an allowed asymmetric `alg` (checked before the
    // key is resolved, so a known key never bypasses it), a signature that verifies with the `jwk` header's
    // key; EmbeddedJWK refuses a `jwk` that is not a public key (item 7).
    const verified = await jwtVerify(proof, known ? () => known.key : EmbeddedJWK, {
      typ: DPOP_PROOF_TYPE, algorithms, currentDate: new Date(expect.nowSeconds * 1000),
    });
    payload = verified.payload as Record<string, unknown>;
    jwk = verified.protectedHeader.jwk as JWK;
    key = verified.key as CryptoKey;
  } catch (error) {
    throw new DpopProofError(describeJoseFailure(error));
  }
  // Item 7: the jwk header "does not contain a private key" (checked again here, whatever jose allows).
  if (['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((member) => member in jwk)) throw new DpopProofError('the jwk header must not contain a private key');
  const { jkt } = known ?? { jkt: await calculateJwkThumbprint(jwk, 'sha256') };
  if (!known) rememberDpopKey(encodedHeader, { key, jkt });
  // Item 3 / §4.2: jti, htm, htu and iat are required.
  const { jti, htm, htu, iat, nonce, ath } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) throw new DpopProofError('jti is missing or malformed');
  if (typeof htm !== 'string') throw new DpopProofError('htm is missing');
  if (typeof htu !== 'string') throw new DpopProofError('htu is missing');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new DpopProofError('iat is missing');
  if (nonce !== undefined && (typeof nonce !== 'string' || nonce.length === 0)) throw new DpopProofError('nonce is malformed');
  // Item 8: htm matches the request's method.
  if (htm !== expect.htm) throw new DpopProofError('htm does not match the request method');
  // Item 9: htu matches the request's URI, ignoring query and fragment (normalized per RFC 3986 §6.2.2, §6.2.3).
  if (!sameTargetUri(htu, expect.htu)) throw new DpopProofError('htu does not match the request URI');
  // Item 11 / §11.1: created within an acceptable window (either side, for clock differences).
  if (Math.abs(expect.nowSeconds - iat) > windowSeconds) throw new DpopProofError('iat is outside the acceptable window');
  // Item 12 / §7: with an access token, `ath` is its hash.
  if (expect.accessToken !== undefined) {
    if (typeof ath !== 'string') throw new DpopProofError('ath is missing');
    if (!constantTimeEqual(ath, accessTokenHash(expect.accessToken))) throw new DpopProofError('ath does not match the access token');
  }
  return { jkt, jti, iat: Math.floor(iat), nonce: nonce as string | undefined };
}

/**
 * RFC 9449 §4.3 item 9: scheme, host, port and path compared after syntax-based normalization (RFC 3986
 * §6.2.2: case of scheme and host, default port and dot-segments by the URL parser; percent-encoding here);
 * query and fragment ignored.
 */
export function sameTargetUri(given: string, expected: string): boolean {
  const target = (value: string): string | undefined => {
    if (!URL.canParse(value)) return undefined;
    const url = new URL(value);
    return `${url.protocol}//${url.host}${normalizePercentEncoding(url.pathname)}`;
  };
  const left = target(given);
  return left !== undefined && left === target(expected);
}

/** RFC 3986 §6.2.2.1–2: percent-encoded unreserved characters decoded (`%69` → `i`), the other triplets' hex digits uppercase. */
function normalizePercentEncoding(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (_triplet, hex: string) => {
    const character = String.fromCharCode(Number.parseInt(hex, 16));
    return /^[A-Za-z0-9\-._~]$/.test(character) ? character : `%${hex.toUpperCase()}`;
  });
}

/** A fixed text per jose failure (never the proof's content). */
function describeJoseFailure(error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : '';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && message.includes('"typ"')) return 'typ must be dpop+jwt';
  if (code === 'ERR_JOSE_ALG_NOT_ALLOWED') return `alg must be one of ${DPOP_SIGNING_ALGORITHMS.join(', ')}`;
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return 'the signature does not verify with the jwk header';
  if (code === 'ERR_JWS_INVALID' && message.includes('public key')) return 'the jwk header must not contain a private key';
  if ((code === 'ERR_JWS_INVALID' && /jwk|JWK/.test(message)) || code === 'ERR_JOSE_NOT_SUPPORTED') return 'the jwk header is missing or unusable';
  if (code === 'ERR_JWT_EXPIRED') return 'the proof has expired';
  return 'the proof is not a well-formed signed JWT';
}
