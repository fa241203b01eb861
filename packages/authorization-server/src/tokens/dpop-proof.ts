/**
 * DPoP at the token endpoint (RFC 9449 §5): the proof of a token request, its replay check across
 * instances (§11.1) and server nonces (§8). The proof's own checks (§4.3) are shared with the resource
 * server: `@gatehouse/protocol/dpop`.
 *
 * Nonces are stateless: `<window>.<HMAC-SHA-256(nonceKey, "dpop-nonce." + window)>` where `window` is the
 * number of DPOP_NONCE_WINDOW_SECONDS periods since the epoch and `nonceKey` is derived (HKDF) from the
 * token HMAC key every instance shares, so a nonce from one instance is accepted by all. A nonce of the
 * current or the previous window is accepted (between one and two windows of validity).
 */
import { createHmac, hash } from 'node:crypto';
import { constantTimeEqual } from '@gatehouse/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DpopProofError, singleDpopHeader, verifyDpopProof, DEFAULT_DPOP_PROOF_WINDOW_SECONDS } from '@gatehouse/protocol/dpop';
import { OAuthError } from '../errors.ts';
import type { ServerContext } from '../server-context.ts';
import { derivedKey } from './derived-key.ts';

/** RFC 9449 §8: how long one nonce window lasts, in seconds. */
export const DPOP_NONCE_WINDOW_SECONDS = 300;
/** RFC 9449 §4.3 item 11: seconds either side of a proof's `iat` it is accepted. */
export const DPOP_PROOF_WINDOW_SECONDS = DEFAULT_DPOP_PROOF_WINDOW_SECONDS;

const nonceKeys = new WeakMap<Buffer, Buffer>();

/** The nonce key: HKDF-SHA-256 of the token HMAC key, for this purpose only. */
function nonceKey(tokenHmacKey: Buffer): Buffer {
  let key = nonceKeys.get(tokenHmacKey);
  if (!key) {
    key = derivedKey(tokenHmacKey, 'gatehouse dpop nonce');
    nonceKeys.set(tokenHmacKey, key);
  }
  return key;
}

const nonceTag = (key: Buffer, window: number) => createHmac('sha256', key).update(`dpop-nonce.${window}`).digest('base64url');

/** RFC 9449 §8: the nonce to hand out at `nowSeconds`. */
export function issueDpopNonce(tokenHmacKey: Buffer, nowSeconds: number): string {
  const window = Math.floor(nowSeconds / DPOP_NONCE_WINDOW_SECONDS);
  return `${window}.${nonceTag(nonceKey(tokenHmacKey), window)}`;
}

/** RFC 9449 §8: whether `nonce` is one this deployment issued in the current or the previous window. */
export function isCurrentDpopNonce(tokenHmacKey: Buffer, nonce: string, nowSeconds: number): boolean {
  const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(nonce);
  if (!match) return false;
  const window = Number(match[1]);
  const current = Math.floor(nowSeconds / DPOP_NONCE_WINDOW_SECONDS);
  if (window !== current && window !== current - 1) return false;
  return constantTimeEqual(match[2]!, nonceTag(nonceKey(tokenHmacKey), window));
}

/**
 * The DPoP key a token request proves possession of (RFC 9449 §5), or `undefined` when it sent no proof.
 * Checks the proof (§4.3) against `POST <issuer>/oauth/token`, the nonce when the deployment requires one
 * (§8: `use_dpop_nonce` with a fresh `DPoP-Nonce` header), then records it so a replay, on any instance,
 * is refused (§11.1). With nonces required every token endpoint response carries a fresh `DPoP-Nonce`.
 * @param endpointPath the endpoint the proof is for (its `htu`): the token endpoint, or `/oauth/par` (RFC 9449 §10.1).
 * @returns the JWK SHA-256 thumbprint (`jkt`) of the proof's key.
 * @throws OAuthError `invalid_dpop_proof` (a failed check or a replay) or `use_dpop_nonce`.
 */
export async function tokenRequestDpopKey(context: ServerContext, request: FastifyRequest, reply: FastifyReply, endpointPath = '/oauth/token'): Promise<string | undefined> {
  const { options, clock, storage } = context;
  const now = clock.nowSeconds();
  if (options.dpopNonceRequired) reply.header('dpop-nonce', issueDpopNonce(options.tokenHmacKey, now));
  let proof;
  try {
    const header = singleDpopHeader(request.headers.dpop);
    if (header === undefined) return undefined;
    proof = await verifyDpopProof(header, { htm: 'POST', htu: `${options.issuer}${endpointPath}`, nowSeconds: now, windowSeconds: DPOP_PROOF_WINDOW_SECONDS });
  } catch (error) {
    if (error instanceof DpopProofError) throw new OAuthError('invalid_dpop_proof', error.description);
    throw error;
  }
  // RFC 9449 §8: "the authorization server responds with use_dpop_nonce" when the nonce is missing or stale.
  if (options.dpopNonceRequired && (proof.nonce === undefined || !isCurrentDpopNonce(options.tokenHmacKey, proof.nonce, now))) {
    throw new OAuthError('use_dpop_nonce', 'the DPoP proof must carry the nonce in the DPoP-Nonce header');
  }
  // RFC 9449 §11.1: a proof is used once. Remembered (as a digest of key and jti) until its iat window ends.
  const proofDigest = hash('sha256', `${proof.jkt}.${proof.jti}`, 'base64url');
  if (!(await storage.dpopProofs.recordOnce(proofDigest, proof.iat + DPOP_PROOF_WINDOW_SECONDS + 1, now))) {
    throw new OAuthError('invalid_dpop_proof', 'the DPoP proof was already used (jti)');
  }
  return proof.jkt;
}
