/**
 * Every error `@gatehouse/client` throws. Errors the authorization server *sent* (an OAuth error code
 * in a redirect or a JSON body) are `AuthorizationServerError`; checks that failed *here* are
 * `CallbackValidationError` or `ConfigurationError`; connection states are their own types so callers
 * can branch with `instanceof`. No error message or property ever holds a token value: messages name
 * a token by its fingerprint at most (see `logging.ts`).
 */

/** The base class: `instanceof GatehouseClientError` catches everything this package throws on purpose. */
export class GatehouseClientError extends Error {
  override readonly name: string = 'GatehouseClientError';
}

/** Options that cannot work (missing issuer, HTTP to a non-loopback host, bad encryption keys…). */
export class ConfigurationError extends GatehouseClientError {
  override readonly name = 'ConfigurationError';
}

/** Where an error response came from. */
export type AuthorizationServerEndpoint = 'discovery' | 'authorization' | 'token' | 'revocation';

/**
 * The authorization server answered with an OAuth error: an authorization error response
 * (RFC 6749 §4.1.2.1, e.g. `access_denied`) or a token/revocation error body (RFC 6749 §5.2,
 * RFC 7009 §2.2.1, e.g. `invalid_client`). `error` is the wire code verbatim.
 */
export class AuthorizationServerError extends GatehouseClientError {
  override readonly name = 'AuthorizationServerError';
  readonly endpoint: AuthorizationServerEndpoint;
  readonly error: string;
  readonly errorDescription: string | undefined;
  /** HTTP status of the response; undefined for authorization responses (a redirect). */
  readonly status: number | undefined;
  constructor(endpoint: AuthorizationServerEndpoint, error: string, errorDescription: string | undefined, status?: number) {
    super(`the authorization server's ${endpoint} endpoint answered ${error}${errorDescription ? `: ${errorDescription}` : ''}`);
    this.endpoint = endpoint;
    this.error = error;
    this.errorDescription = errorDescription;
    this.status = status;
  }
}

/**
 * A check made here failed: the callback's `state` or `iss` does not match (RFC 6749 §10.12,
 * RFC 9207 §2.4), the transaction expired, or a response lacks a member Gatehouse always sends.
 */
export class CallbackValidationError extends GatehouseClientError {
  override readonly name = 'CallbackValidationError';
}

/** The authorization server (or API) could not be reached, timed out, or kept answering 5xx/429. */
export class TransportError extends GatehouseClientError {
  override readonly name = 'TransportError';
  /** `network`, `timeout`, or `http_<status>`. */
  readonly reason: string;
  /** The server's `Retry-After`, milliseconds, when it sent one. */
  readonly retryAfterMilliseconds: number | undefined;
  constructor(message: string, reason: string, retryAfterMilliseconds?: number) {
    super(message);
    this.reason = reason;
    this.retryAfterMilliseconds = retryAfterMilliseconds;
  }
}

/** A response from the authorization server failed a check made here (a missing or malformed member). */
export class InvalidResponseError extends GatehouseClientError {
  override readonly name = 'InvalidResponseError';
}

/** No connection with that id in the token store. */
export class ConnectionNotFoundError extends GatehouseClientError {
  override readonly name = 'ConnectionNotFoundError';
  readonly connectionId: string;
  constructor(connectionId: string) {
    super(`no connection "${connectionId}"`);
    this.connectionId = connectionId;
  }
}

/**
 * The connection's grant is gone (SPEC §3 integrator rules: on `invalid_grant` stop, mark the connection
 * unauthenticated, delete its tokens, ask the user to reconnect). Thrown at once, without a request, by
 * every later call until the user connects again.
 */
export class ReauthorizationRequiredError extends GatehouseClientError {
  override readonly name = 'ReauthorizationRequiredError';
  readonly connectionId: string;
  /** Why, e.g. `invalid_grant: refresh token was already used`. */
  readonly reason: string;
  constructor(connectionId: string, reason: string) {
    super(`connection "${connectionId}" needs the user to connect again (${reason})`);
    this.connectionId = connectionId;
    this.reason = reason;
  }
}

/** A refresh failed for a reason that may pass (network, 5xx, 429) after every allowed attempt. Tokens are kept. */
export class RefreshFailedError extends GatehouseClientError {
  override readonly name = 'RefreshFailedError';
  readonly connectionId: string;
  readonly attempts: number;
  /** The last attempt's reason: `network`, `timeout`, `http_503`… */
  readonly reason: string;
  constructor(connectionId: string, attempts: number, reason: string) {
    super(`refreshing connection "${connectionId}" failed after ${attempts} attempt(s): ${reason}`);
    this.connectionId = connectionId;
    this.attempts = attempts;
    this.reason = reason;
  }
}

/** A refresh lock could not be acquired in time (another instance holds it for too long). */
export class LockTimeoutError extends GatehouseClientError {
  override readonly name = 'LockTimeoutError';
}

/**
 * The refresh lock was lost while held (its PostgreSQL connection died or stopped answering, its Redis lease
 * ran out unrenewed). The refresh sent no request after the loss was seen; the message says whether earlier
 * attempts of the same refresh had been sent (their responses lost or failed, so the server may already have
 * rotated the token: a retry is then answered within Gatehouse's reuse grace window). The client takes the
 * lock again once by itself, with the same retry budget, before throwing this.
 */
export class LockLostError extends GatehouseClientError {
  override readonly name = 'LockLostError';
}

/** A stored token cannot be decrypted: its key is not configured, or the ciphertext was tampered with. */
export class DecryptionError extends GatehouseClientError {
  override readonly name = 'DecryptionError';
}

/**
 * A callback's tokens were issued but the connection could not be stored (the token store failed, or the refresh
 * lock could not be taken). A grant nobody holds a token of could never be disconnected from here, so its refresh
 * token was revoked at the revocation endpoint (RFC 7009 §2.1; for a refresh token Gatehouse revokes the whole
 * grant, SPEC decision 15), best effort: `grantRevoked` says whether the server confirmed it. When it is false the
 * app may still show as connected at Gatehouse until the user disconnects it there (the connected apps page).
 * Nothing was stored; the user can connect again. `cause` is the store's (or lock's) error.
 */
export class ConnectionNotStoredError extends GatehouseClientError {
  override readonly name = 'ConnectionNotStoredError';
  readonly connectionId: string;
  /** Whether the revocation endpoint confirmed the revocation of the grant just issued. */
  readonly grantRevoked: boolean;
  constructor(connectionId: string, grantRevoked: boolean, cause: unknown) {
    super(`connection "${connectionId}" was not stored (${(cause as Error)?.message ?? String(cause)}): ${grantRevoked
      ? 'the grant just issued for it was revoked; connect again'
      : 'the grant just issued for it could not be revoked, so the app may still show as connected at the authorization server until the user disconnects it there'}`, { cause });
    this.connectionId = connectionId;
    this.grantRevoked = grantRevoked;
  }
}

/**
 * `revoke` revoked the grant at the authorization server (or found the client deleted there, which revoked it), and
 * the token store then failed to delete the connection: the grant is gone, but the row and its (now dead) tokens are
 * still stored. Call `revoke` again to delete it: revoking the same token again is answered 200 (RFC 7009 §2.2).
 * Until then its tokens are refused (the grant is gone): a refresh answered `invalid_grant` marks it `reauthorization_required`.
 * `cause` is the store's error.
 */
export class ConnectionNotDeletedError extends GatehouseClientError {
  override readonly name = 'ConnectionNotDeletedError';
  readonly connectionId: string;
  constructor(connectionId: string, cause: unknown) {
    super(`connection "${connectionId}" was revoked at the authorization server, but the token store could not delete it (${(cause as Error)?.message ?? String(cause)}): call revoke again to delete it`, { cause });
    this.connectionId = connectionId;
  }
}

/**
 * The stored connection was made at another authorization server, or by another client, than this client
 * is configured for. RFC 6749 §6 and §10.4: a refresh token is presented only by the client it was issued
 * to, at its issuer; its access token belongs to that issuer's API. Nothing was sent and nothing in the
 * store changed (the connection is still usable with the settings it was made with). Compared: the row's
 * `issuer` (the discovered metadata's, RFC 8414 §2) with the configured issuer as URLs, and `clientId` exactly.
 */
export class ConnectionMismatchError extends GatehouseClientError {
  override readonly name = 'ConnectionMismatchError';
  readonly connectionId: string;
  /** The issuer and client ID stored with the connection (the ones it must be used with). */
  readonly storedIssuer: string;
  readonly storedClientId: string;
  /** The issuer (URL href) and client ID this client is configured with. */
  readonly configuredIssuer: string;
  readonly configuredClientId: string;
  constructor(connectionId: string, stored: { issuer: string; clientId: string }, configured: { issuer: string; clientId: string }) {
    super(`connection "${connectionId}" belongs to client ${stored.clientId} at ${stored.issuer}, not to client ${configured.clientId} at ${configured.issuer}: nothing was sent`);
    this.connectionId = connectionId;
    this.storedIssuer = stored.issuer;
    this.storedClientId = stored.clientId;
    this.configuredIssuer = configured.issuer;
    this.configuredClientId = configured.clientId;
  }
}

/** Why an API request cannot be sent as given. */
export type InvalidApiRequestProblem = 'method_not_token' | 'body_not_allowed' | 'refused_by_fetch';

/**
 * An API request (`fetch`) that cannot be sent as given, found before anything was sent:
 * `method_not_token` — the method is not an HTTP token (RFC 9110 §9.1: `method = token`, §5.6.2);
 * `body_not_allowed` — a body with GET or HEAD (the Fetch standard refuses it; RFC 9110 §9.3.1 gives it no meaning);
 * `refused_by_fetch` — `fetch` itself refused to build the request (its `TypeError` message in `detail`).
 * A mistake of the caller, never a network failure: retrying cannot help.
 */
export class InvalidApiRequestError extends GatehouseClientError {
  override readonly name = 'InvalidApiRequestError';
  readonly problem: InvalidApiRequestProblem;
  /** The method as given. */
  readonly method: string;
  constructor(problem: InvalidApiRequestProblem, method: string, detail?: string) {
    super(problem === 'method_not_token'
      ? `"${method}" is not an HTTP method: a method is a token (RFC 9110 §9.1) of letters, digits and !#$%&'*+-.^_\`|~, e.g. GET or POST`
      : problem === 'body_not_allowed'
        ? `a ${method} request cannot have a body: send it with POST, PUT or PATCH`
        : `the ${method} request was not sent: fetch refused it${detail ? `: ${detail}` : ''}`);
    this.problem = problem;
    this.method = method;
  }
}

/**
 * The API refused the DPoP proofs of a connection's requests (401 `WWW-Authenticate: DPoP error="invalid_dpop_proof"`,
 * RFC 9449 §7.1) and a refresh did not help: the token is bound to the key the proofs are signed with, so the fault is
 * most likely the API's own (a public origin it is misconfigured with, so every proof's `htu` mismatches; its clock,
 * for `iat`). `refreshed` says whether this call refreshed (the first time for this key) or refused without one, since
 * a refresh already did not help for this connection and key: one refresh per cause, never one per call (each a token
 * rotation at Gatehouse). A request the API accepts ends that; so does a new key (a reconnect).
 * `apiError` and `apiErrorDescription` are the API's challenge parameters (the description cut to 200 characters).
 */
export class DpopProofRejectedError extends GatehouseClientError {
  override readonly name = 'DpopProofRejectedError';
  readonly connectionId: string;
  readonly refreshed: boolean;
  readonly status: number;
  readonly apiError: string;
  readonly apiErrorDescription: string | undefined;
  constructor(connectionId: string, refreshed: boolean, status: number, apiError: string, apiErrorDescription: string | undefined) {
    const answer = `${status} ${apiError}${apiErrorDescription ? ` ("${apiErrorDescription}")` : ''}`;
    super(refreshed
      ? `the API refused the DPoP proof of connection "${connectionId}" (${answer}) again after a refresh: the token is bound to the key the proof is signed with, so check the API's configuration (its public origin, which each proof's htu must match; its clock); no further refresh is made for this cause`
      : `the API refused the DPoP proof of connection "${connectionId}" (${answer}); a refresh already did not help for this key, so none was made: check the API's configuration (its public origin, which each proof's htu must match; its clock)`);
    this.connectionId = connectionId;
    this.refreshed = refreshed;
    this.status = status;
    this.apiError = apiError;
    this.apiErrorDescription = apiErrorDescription;
  }
}
