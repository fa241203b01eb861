/**
 * RFC 9449 DPoP key pairs of connections, kept with their tokens. A public client's refresh token is bound
 * to the key it was used with (RFC 9449 §5), so the key must outlive the process: it is generated
 * extractable (oauth4webapi `generateKeyPair(alg, { extractable: true })`), its private JWK is sealed like
 * the tokens (`encryption.ts`, field `dpop_private_key`) and stored in the connection's row, and it is
 * imported again (private key not extractable) wherever the connection is used.
 */
import * as oauth from 'oauth4webapi';

/**
 * What the SDK generates and persists, in order of preference (ES256 first: RFC 9449 §4.2 names it as the
 * algorithm every server should support, and its keys and signatures are small). Each is one oauth4webapi
 * supports for DPoP and Gatehouse advertises in `dpop_signing_alg_values_supported`. Not `EdDSA`: oauth4webapi
 * 3 signs Ed25519 keys with the newer `alg` value `Ed25519`, which a server advertising `EdDSA` may refuse.
 */
export const DPOP_ALGORITHMS = ['ES256', 'PS256', 'RS256'] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];

/** WebCrypto import parameters per JWS `alg`. */
const IMPORT_PARAMETERS: Record<DpopAlgorithm, AlgorithmIdentifier | EcKeyImportParams | RsaHashedImportParams> = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
};

/** The first of {@link DPOP_ALGORITHMS} the server offers (RFC 9449 §5.1 `dpop_signing_alg_values_supported`), or undefined. */
export function chooseDpopAlgorithm(offered: readonly string[] | undefined): DpopAlgorithm | undefined {
  return DPOP_ALGORITHMS.find((alg) => offered?.includes(alg));
}

/**
 * A new key pair for `alg`, and its serialized form (JSON `{ alg, jwk }` holding the PRIVATE key: seal it
 * before it goes anywhere). The returned pair is the imported form, as after a restart.
 */
export async function generateDpopKey(alg: DpopAlgorithm): Promise<{ keyPair: CryptoKeyPair; serialized: string }> {
  const generated = await oauth.generateKeyPair(alg, { extractable: true });
  const jwk = await crypto.subtle.exportKey('jwk', generated.privateKey);
  const serialized = JSON.stringify({ alg, jwk });
  return { keyPair: await importDpopKey(serialized), serialized };
}

/**
 * The key pair of a serialized key: the private key not extractable, the public key extractable (oauth4webapi
 * puts it in each proof's `jwk` header).
 * @throws TypeError when the text is not a key this module wrote.
 */
export async function importDpopKey(serialized: string): Promise<CryptoKeyPair> {
  const { alg, jwk } = JSON.parse(serialized) as { alg: DpopAlgorithm; jwk: JsonWebKey };
  const parameters = IMPORT_PARAMETERS[alg];
  if (parameters === undefined || typeof jwk !== 'object' || jwk === null) throw new TypeError('not a stored DPoP key');
  const { kty, crv, x, y, n, e } = jwk;
  // The public half: the members RFC 7518 §6 defines for each key type, nothing private.
  const publicJwk: JsonWebKey = kty === 'RSA' ? { kty, n, e } : { kty, crv, x, y };
  const [privateKey, publicKey] = await Promise.all([
    crypto.subtle.importKey('jwk', jwk, parameters, false, ['sign']),
    crypto.subtle.importKey('jwk', publicJwk, parameters, true, ['verify']),
  ]);
  return { privateKey, publicKey };
}
