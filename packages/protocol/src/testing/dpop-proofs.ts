/**
 * Test support: DPoP proof JWTs (RFC 9449 §4.2) made by hand, well-formed or deliberately wrong in one
 * respect, for the authorization server's and the resource server's refusal tests. Not for production.
 */
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { accessTokenHash } from '../dpop.ts';

export interface DpopTestKey {
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  privateJwk: JWK;
  /** RFC 7638 thumbprint of the public key: the `cnf.jkt` a bound token carries. */
  jkt: string;
}

/** A fresh key pair for proofs (ES256 unless told). */
export async function createDpopTestKey(alg = 'ES256'): Promise<DpopTestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const publicJwk = await exportJWK(publicKey);
  return { alg, privateKey, publicJwk, privateJwk: await exportJWK(privateKey), jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

export interface DpopTestProofOptions {
  htm?: string;
  htu: string;
  /** Seconds since the epoch. */
  iat: number;
  jti?: string;
  nonce?: string;
  /** The access token whose hash goes in `ath`. */
  accessToken?: string;
  /** Overrides for the defect under test. */
  typ?: string;
  /** Puts the private JWK in the `jwk` header (must be refused, RFC 9449 §4.3 item 7). */
  embedPrivateKey?: boolean;
  /** Signs with this key while embedding `key`'s public JWK (the signature must not verify). */
  signWith?: DpopTestKey;
  /** Claims to drop (e.g. `['jti']`). */
  omit?: string[];
}

/** A signed proof with `key`; `options` chooses the request it is for and any defect. */
export async function createDpopTestProof(key: DpopTestKey, options: DpopTestProofOptions): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: options.jti ?? randomUUID(), htm: options.htm ?? 'POST', htu: options.htu, iat: options.iat,
    ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
    ...(options.accessToken === undefined ? {} : { ath: accessTokenHash(options.accessToken) }),
  };
  for (const name of options.omit ?? []) delete claims[name];
  const jwk = options.embedPrivateKey ? key.privateJwk : key.publicJwk;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: options.typ ?? 'dpop+jwt', jwk })
    .sign((options.signWith ?? key).privateKey);
}
