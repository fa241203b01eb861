/**
 * Client authentication at the token, introspection and revocation endpoints (SPEC decision 1).
 *
 * Confidential clients: `client_secret_basic` only (RFC 6749 §2.3.1). Public clients: `none`, sending
 * `client_id` in the body. Everything else is `invalid_client` with a description that says why,
 * rendered as 401 with `WWW-Authenticate: Basic` (RFC 6749 §5.2).
 */
import { OAuthError } from '../errors.ts';
import { singleParameter, type RawParameters } from '../http/parameters.ts';
import type { AuthenticatedClient, ClientRecord, Storage } from '../storage/storage.ts';
import { presentedSecretDigest, secretDigestMatches, UNMATCHABLE_SECRET_DIGEST } from './client-secret.ts';

export interface AuthenticationPolicy {
  /** Whether a public client (method `none`) may use this endpoint. */
  allowPublicClients: boolean;
}

/**
 * A client's authentication: its record (the client cache's, shared and frozen: never copied per request), and
 * the client with the stored digest of the secret the request presented (its current or, within the overlap, its
 * previous one; null for a public client), which an exchange or refresh hands to the storage (storage.ts
 * AuthenticatedClient) so that it refuses once the client no longer accepts that secret.
 */
export interface ClientAuthentication {
  client: ClientRecord;
  authenticated: AuthenticatedClient;
}

/** Compares a presented secret's digest (presentedSecretDigest) with a stored digest in constant time (clients/client-secret.ts). */
export type SecretComparison = (presentedDigest: Buffer, storedDigest: string) => boolean;

/**
 * @param now seconds since the epoch: a rotated-out secret is accepted while `now < previousSecretExpiresAt`.
 * @param compareSecret the digest comparison; tests pass a spy to see it run on every path.
 * @returns the authenticated, active client, and which of its secrets the request presented.
 * @throws OAuthError `invalid_client` (unknown client, wrong secret, wrong method, two methods, inactive client).
 */
export async function authenticateClientCredential(
  storage: Storage,
  authorizationHeader: string | undefined,
  body: RawParameters,
  policy: AuthenticationPolicy,
  now: number,
  compareSecret: SecretComparison = secretDigestMatches,
): Promise<ClientAuthentication> {
  const bodyClientId = singleParameter(body, 'client_id');
  const bodySecret = singleParameter(body, 'client_secret');
  if (bodySecret !== undefined) {
    // SPEC decision 1 (the seeds forbid client_secret_post, a deliberate departure from OAuth 2.1).
    throw new OAuthError('invalid_client', authorizationHeader
      ? 'use exactly one client authentication method: HTTP Basic, without client_secret in the body'
      : 'client_secret in the request body is not supported: a confidential client authenticates with HTTP Basic (client_secret_basic), a public client sends only client_id');
  }

  if (authorizationHeader !== undefined) {
    const credentials = parseBasicCredentials(authorizationHeader);
    // RFC 6749 §2.3: a client MUST NOT use more than one authentication method in each request.
    if (bodyClientId !== undefined && bodyClientId !== credentials.clientId) {
      throw new OAuthError('invalid_client', 'client_id in the body differs from the HTTP Basic client_id');
    }
    const client = await storage.clients.find(credentials.clientId);
    // SPEC decision 9 (comparisons in constant time), and no client_id enumeration by timing: whatever the
    // client — unknown, public, with or without a previous secret — the presented secret is digested (once)
    // and compared twice, against a digest nothing matches where the client has none. The answer for an
    // unknown client and for a wrong secret is the same, in body and in work done.
    const secretDigest = client?.clientType === 'confidential' ? client.secretDigest : null;
    // SPEC decision 10: after a rotation the previous secret works until its overlap ends (exclusive).
    const previousDigest = secretDigest !== null && client!.previousSecretExpiresAt !== null && now < client!.previousSecretExpiresAt
      ? client!.previousSecretDigest
      : null;
    const presentedDigest = presentedSecretDigest(credentials.clientSecret);
    const matchesCurrent = compareSecret(presentedDigest, secretDigest ?? UNMATCHABLE_SECRET_DIGEST);
    const matchesPrevious = compareSecret(presentedDigest, previousDigest ?? UNMATCHABLE_SECRET_DIGEST);
    if (!client) throw new OAuthError('invalid_client', 'client authentication failed');
    if (secretDigest === null) {
      throw new OAuthError('invalid_client', 'a public client must not send a client secret (token_endpoint_auth_method is none)');
    }
    if (!(matchesCurrent || (previousDigest !== null && matchesPrevious))) {
      throw new OAuthError('invalid_client', 'client authentication failed');
    }
    return { client: requireActive(client), authenticated: { clientId: client.clientId, secretDigest: matchesCurrent ? secretDigest : previousDigest } };
  }

  if (bodyClientId === undefined) {
    throw new OAuthError('invalid_client', 'client authentication required: HTTP Basic for confidential clients, client_id for public clients');
  }
  const client = await storage.clients.find(bodyClientId);
  if (!client) throw new OAuthError('invalid_client', 'client authentication failed');
  if (client.clientType === 'confidential') {
    throw new OAuthError('invalid_client', 'a confidential client must authenticate with HTTP Basic (client_secret_basic)');
  }
  if (!policy.allowPublicClients) throw new OAuthError('invalid_client', 'public clients cannot use this endpoint');
  return { client: requireActive(client), authenticated: { clientId: client.clientId, secretDigest: null } };
}

/** `authenticateClientCredential`'s client alone (introspection, revocation, PAR, the revocation feed). Same errors. */
export async function authenticateClient(
  storage: Storage, authorizationHeader: string | undefined, body: RawParameters, policy: AuthenticationPolicy, now: number,
  compareSecret: SecretComparison = secretDigestMatches,
): Promise<ClientRecord> {
  return (await authenticateClientCredential(storage, authorizationHeader, body, policy, now, compareSecret)).client;
}

/** SPEC decision 13: a pending, suspended or deleted client cannot redeem a code, refresh or introspect. */
function requireActive(client: ClientRecord): ClientRecord {
  if (client.status !== 'active') throw new OAuthError('invalid_client', `client is ${client.status}`);
  return client;
}

/**
 * RFC 6749 §2.3.1: the client_id and secret are form-urlencoded (Appendix B) before base64. Clients
 * differ in what they encode (`-` as `%2D` or raw); decoding handles both.
 */
function parseBasicCredentials(header: string): { clientId: string; clientSecret: string } {
  const match = BASIC.exec(header.trim());
  if (!match) {
    throw new OAuthError('invalid_client', /^Basic(?: |$)/i.test(header.trim()) ? 'malformed HTTP Basic credentials' : 'the Authorization header must use the Basic scheme');
  }
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator < 0) throw new OAuthError('invalid_client', 'malformed HTTP Basic credentials');
  try {
    const clientId = formDecode(decoded.slice(0, separator));
    const clientSecret = formDecode(decoded.slice(separator + 1));
    if (!clientId) throw new Error('empty client_id');
    return { clientId, clientSecret };
  } catch {
    throw new OAuthError('invalid_client', 'malformed HTTP Basic credentials');
  }
}

// RFC 7235 §2.1: credentials = auth-scheme [ 1*SP token68 ] (one or more spaces); the scheme is case-insensitive (§2.1).
const BASIC = /^Basic +([A-Za-z0-9+/]+=*)$/i;

/** application/x-www-form-urlencoded decoding of one value; values without `%` or `+` (UUIDs, base64url secrets) are returned as they are. */
function formDecode(value: string): string {
  return value.includes('%') || value.includes('+') ? decodeURIComponent(value.replace(/\+/g, ' ')) : value;
}
