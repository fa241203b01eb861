/**
 * `createGatehouseClient(options)`: the composition root of the partner SDK. It wires oauth4webapi
 * (discovery, authorization request and response, token, refresh, revocation, API calls) to the
 * token store, the encryption keyring, the refresh lock and the refresher, and applies every rule the
 * seeds and SPEC §3 give integrations: PKCE S256, `state`, `iss`, exact redirect URI, HTTP Basic for
 * confidential clients, HTTPS, tokens only server-side and encrypted at rest, centralised refresh with
 * one request in flight, atomic persistence, bounded backoff, re-authorization on `invalid_grant`.
 */
import { hash, randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { buildAuthorizationRequest, validateCallback, type AuthorizationTransaction, type AuthorizationUrlOptions } from './authorization.ts';
import { DEFAULT_RETRY_POLICY, retryWithBackoff, RetriesExhaustedError, sleep as realSleep, type RetryPolicy } from './backoff.ts';
import { systemClock, type Clock } from './clock.ts';
import { parseSubjectUrn, secretsEqual } from '@gatehouse/protocol';
import { ConnectionTokens, toConnection, type Connection } from './connection.ts';
import { discoverAuthorizationServer } from './discovery.ts';
import { chooseDpopAlgorithm, generateDpopKey, importDpopKey } from './dpop-key.ts';
import { createTokenCipher, parseEncryptionKeys, type EncryptionKey } from './encryption.ts';
import { resolveEndpoints, type Environment } from './environments.ts';
import {
  AuthorizationServerError, CallbackValidationError, ConfigurationError, ConnectionNotDeletedError, ConnectionNotFoundError, ConnectionNotStoredError, DecryptionError, InvalidResponseError,
} from './errors.ts';
import { createClientEvents, emitSafely, type ClientEvents } from './events.ts';
import type { RefreshLock } from './lock.ts';
import { processMemoryLock } from './locks/memory.ts';
import { createLogWriter, jsonLineLogger, tokenFingerprint, type Logger } from './logging.ts';
import { assertConnectionOwner, createRefresher, type ConnectionOwner } from './refresh.ts';
import { apiRequest, createApiRefusals, type ApiRequestInit } from './resource-request.ts';
import { exchangeAuthorizationCode, requestTokenRefresh, revokeToken, type OAuthContext } from './token-endpoint.ts';
import type { StoredConnection, TokenStore } from './token-store.ts';
import {
  createMemorySessionHandoverReplayStore, createSessionHandoverVerifier, type SessionHandover, type SessionHandoverReplayStore, type SessionHandoverVerifier,
} from './session-handover.ts';
import { transientFailureOf, type TransportSettings } from './transport.ts';

export interface GatehouseClientOptions {
  /** The authorization server's issuer identifier, e.g. `https://auth.example.com`; metadata is discovered from it (RFC 8414). */
  issuer?: string;
  /** A preset (`environments.ts`): `development` supplies issuer and API URL; `staging`/`production` enforce their rules. */
  environment?: Environment;
  /** The registered client ID (a UUID). */
  clientId: string;
  /**
   * A confidential client's secret, sent only with HTTP Basic (`client_secret_basic`, SPEC decision 1).
   * Omit for a public client (`none`: `client_id` in the body, PKCE only). Read it from the server's
   * environment or secret manager, never from source control (seeds, "Client Registration").
   */
  clientSecret?: string;
  /** One of the registered redirect URIs, exactly (SPEC decision 4). */
  redirectUri: string;
  /** Default scopes to request, e.g. `['users:read', 'vendors:read']` or `'users:read vendors:read'`. */
  scope: string | readonly string[];
  /** Base URL of the platform API; the only origin `fetch` sends tokens to. Default from the preset. */
  apiUrl?: string;
  /** The deployment's URN namespace (SPEC §2); default `gatehouse`. */
  urnNamespace?: string;
  /** Where connections live (`stores/memory.ts`, `stores/sqlite.ts`, `stores/postgres.ts`). */
  store: TokenStore;
  /** AES-256-GCM keyring, current key first (`encryption.ts`); or its text form `keyId:base64url,…`. */
  encryptionKeys: readonly EncryptionKey[] | string;
  /**
   * Cross-instance refresh lock. Default: one lock for the whole process (`processMemoryLock`,
   * `locks/memory.ts`), shared by every client made without one, so clients sharing a store in one process
   * refresh a connection one at a time; instances in other processes need a PostgreSQL, Redis or file lock.
   */
  lock?: RefreshLock;
  /** Refresh this long before the access token expires, seconds; default 60. Keep it below the token lifetime (900 s). */
  refreshMarginSeconds?: number;
  /** Backoff for transient refresh and revocation failures; default 4 attempts, 250 ms base, 8 s cap, no attempt starting more than 25 s after the first (`maxElapsedMilliseconds`: keep it below the server's reuse grace window). */
  retryPolicy?: Partial<RetryPolicy>;
  /** How long an authorization transaction stays usable, seconds; default 600. */
  transactionLifetimeSeconds?: number;
  /** Timeout of each HTTP request, milliseconds; default 10 000. */
  httpTimeoutMilliseconds?: number;
  /** Default the system clock. */
  clock?: Clock;
  /** Receives refresh attempts and outcomes; default JSON lines on stderr. Entries never hold tokens. */
  logger?: Logger;
  /** Replaces global `fetch` for every request (tests, proxies). */
  fetch?: typeof fetch;
  /**
   * Where used session-handover `jti`s are kept (`verifySessionHandover`); default per process. Use a
   * shared one when the app runs several instances.
   */
  sessionHandoverReplayStore?: SessionHandoverReplayStore;
  /** Backoff wait; default a timer. */
  sleep?: (milliseconds: number) => Promise<void>;
  /** Backoff jitter source in [0, 1); default `Math.random`. */
  random?: () => number;
  /**
   * RFC 9449 DPoP (sender-constrained tokens), through oauth4webapi; default on (`true`) whenever the
   * server's metadata lists an algorithm of `dpop-key.ts` in `dpop_signing_alg_values_supported` (ES256
   * preferred). Each connection gets its own key pair, generated at connect (or at the first refresh of a
   * connection that has none), sealed with the tokens (`encryptionKeys`) and stored in the same row, so
   * bound tokens, a public client's refresh token included, survive restarts and work from every instance.
   * `false`: new connections get Bearer tokens (connections already bound keep using their stored key).
   * `{ keyPair }`: this caller-kept key pair for every connection without a stored key; nothing is stored.
   * Proofs carry `clock`'s time, which must be within a minute of the servers' (RFC 9449 §4.3 `iat`).
   */
  dpop?: boolean | { keyPair?: CryptoKeyPair };
}

/**
 * What `revoke` did; in every case the connection was deleted.
 * - `revoked`: the revocation endpoint accepted the refresh token, which revokes the grant (SPEC decision 15).
 * - `client_deleted`: the server said the client is deleted, which revoked every grant it held.
 * - `no_tokens`: the connection held no tokens (`reauthorization_required`: the grant had ended); nothing was sent.
 * - `deleted_undecryptable`: only with `undecryptable: 'delete'`: its tokens could not be decrypted, so nothing was
 *   sent: the grant may still be alive at the server, where the user can disconnect the app (its connected apps page).
 */
export type RevokeOutcome = 'revoked' | 'client_deleted' | 'no_tokens' | 'deleted_undecryptable';

export interface RevokeOptions {
  /**
   * A connection whose refresh token cannot be decrypted (its key was dropped from the keyring, or the row altered):
   * `'throw'` (default) throws DecryptionError and keeps it; `'delete'` deletes it without a request (outcome
   * `deleted_undecryptable`), for a user who asked to forget a connection that cannot be revoked from here.
   */
  undecryptable?: 'throw' | 'delete';
}

/** How many connections' imported DPoP keys one client keeps in memory. */
const DPOP_HANDLE_CACHE_SIZE = 1000;

export interface GatehouseClient {
  /** `connected`, `refreshed`, `reauthorization_required`, `revoked` (`events.ts`). */
  readonly events: ClientEvents;
  readonly clientId: string;
  /**
   * Discovers (once) and returns the authorization server metadata.
   * @throws TransportError, ConfigurationError, InvalidResponseError
   */
  discover(): Promise<oauth.AuthorizationServer>;
  /**
   * The URL to redirect the user's browser to, and the transaction to keep server-side until the
   * callback (`state` and `codeVerifier` are secrets of this flow).
   * @throws ConnectionMismatchError when `connectionId` names a connection made at another issuer or by another client
   *   (its callback would be refused: the row is not this client's to replace); TransportError, ConfigurationError from discovery
   */
  authorizationUrl(options?: AuthorizationUrlOptions): Promise<{ url: URL; transaction: AuthorizationTransaction }>;
  /**
   * Validates the callback (`state`, `iss`, error responses), exchanges the code with PKCE and client
   * authentication, and stores the connection encrypted. A reconnect under an existing `connectionId` replaces
   * its row; the replaced grant is revoked (best effort) when it was for another subject. A row made at another issuer
   * or by another client is not replaced (nor its token sent anywhere, RFC 6749 §10.4): ConnectionMismatchError, before
   * the code is sent; if such a row appears under the id during the exchange, the new grant is revoked as below.
   * A transaction is used once (its `state` is a one-time CSRF token, RFC 9700 §4.7.1): a second callback with it
   * in this process (a browser reloading the callback page) is refused before anything is sent, since a code
   * sent twice makes the server revoke what it issued for it (RFC 6749 §4.1.2). Clear the stored transaction
   * before calling this, so that other processes refuse it too.
   * @returns the connection (subject, scopes) and its tokens (which print as fingerprints only).
   * If the connection cannot be stored (the token store or the refresh lock fails) after the server issued its tokens,
   * the new refresh token is revoked (best effort, RFC 7009; bounded, since the user's browser waits: at most 3 attempts
   * within 3 s, each request given at most 2 s, so about 5 s at worst), since nothing would hold the grant, and
   * ConnectionNotStoredError thrown (its `grantRevoked` says whether the revocation was confirmed). A token response
   * without a valid subject URN is refused (InvalidResponseError) after its refresh token is revoked the same way. One
   * without a refresh token (Gatehouse always issues one, SPEC §3: a broken server) is refused (InvalidResponseError),
   * nothing stored, after its access token is revoked the same way (the message says whether it was).
   * @throws CallbackValidationError (also for a transaction already used), AuthorizationServerError (`access_denied`,
   *   `invalid_grant`…), InvalidResponseError, TransportError, ConnectionMismatchError, ConnectionNotStoredError
   */
  handleCallback(callbackUrl: string | URL, transaction: AuthorizationTransaction): Promise<{ connection: Connection; tokens: ConnectionTokens }>;
  getConnection(connectionId: string): Promise<Connection | undefined>;
  listConnections(): Promise<Connection[]>;
  /**
   * A valid access token for server-side use, refreshed centrally when it expires within the margin.
   * @throws ConnectionNotFoundError, ConnectionMismatchError (the connection was made at another issuer or by
   *   another client: nothing sent, nothing changed; RFC 6749 §6, §10.4), ReauthorizationRequiredError, RefreshFailedError, AuthorizationServerError,
   *   LockTimeoutError, LockLostError (the refresh lock was lost twice: nothing was sent after the loss was seen, though earlier attempts of the refresh may have been — the message says how many —; try again), DecryptionError; a failing token store write after the server answered is retried, then its error thrown
   */
  getAccessToken(connectionId: string): Promise<string>;
  /** Refreshes now (rotating both tokens). Same errors as `getAccessToken`. */
  refresh(connectionId: string): Promise<Connection>;
  /**
   * Calls the API with `Authorization: DPoP` and a proof for a DPoP-bound connection (RFC 9449 §7), else `Bearer`;
   * refreshes once on 401 `invalid_token` or `invalid_dpop_proof` (a refreshed token refused `invalid_token` too: that
   * answer is returned, and so is each later refusal of that token, without a refresh), and sends the same token again once, with the API's
   * nonce, on `use_dpop_nonce` (RFC 9449 §9). A proof refused again after the refresh is `DpopProofRejectedError`, and
   * so is each later refusal for that connection and key, without a refresh (one per cause, not one per call), until
   * the API accepts a request. `url` is relative to `apiUrl` or an absolute URL of the same origin.
   * `init.signal` ends the request when aborted; the per-request timeout (`httpTimeoutMilliseconds`) applies as well.
   * @throws ConfigurationError for other origins; InvalidApiRequestError, before any token is read, for a method
   *   that is not an HTTP token (RFC 9110 §9.1) or a body with GET or HEAD; TransportError; the reason of `init.signal`
   *   (an `AbortError` by default) when the caller aborted it; DpopProofRejectedError (RFC 9449 §7.1); the errors of
   *   `getAccessToken`.
   */
  fetch(connectionId: string, url: string | URL, init?: ApiRequestInit): Promise<Response>;
  /**
   * Revokes the connection's refresh token at `/oauth/revoke` (which revokes its grant, SPEC decision 15),
   * then deletes the connection. If revocation fails, the connection is kept and the error thrown, except when
   * the server says the client itself is deleted (`invalid_client`, "client is deleted"): deleting a client
   * revokes every grant it held, so the connection is deleted too. A connection holding no tokens
   * (`reauthorization_required`) is deleted without a request. If the token store fails to delete the connection after
   * the revocation went through, ConnectionNotDeletedError says so (the grant is revoked, the row kept: call `revoke`
   * again, which revokes the same token again, answered 200 by RFC 7009 §2.2, and deletes it); no `revoked` event then.
   * Tokens that cannot be decrypted (their key dropped from the keyring) cannot be sent: DecryptionError, the connection
   * kept, unless `options.undecryptable` is `'delete'` (see `RevokeOptions`).
   * @returns what was done (`RevokeOutcome`), also in the `revoked` event.
   * @throws ConnectionNotFoundError; ConnectionNotDeletedError; DecryptionError; ConnectionMismatchError when the connection was made at another issuer or by
   *   another client, holding tokens or not (RFC 6749 §10.4: nothing is sent, the connection is kept); AuthorizationServerError, TransportError
   */
  revoke(connectionId: string, options?: RevokeOptions): Promise<RevokeOutcome>;
  /**
   * Verifies a session handover (`?<ns>_id_token=…` on the initiation or settings URI, session-handover.ts):
   * signature by the discovered `jwks_uri`, `typ`, `iss`, `aud` = this client ID, expiry, and one-time use
   * of the `jti`. @returns the user and company (subject URN to pass to `authorizationUrl`).
   * @throws SessionHandoverError (`reason` says which check failed), TransportError from discovery
   */
  verifySessionHandover(url: string | URL | URLSearchParams): Promise<SessionHandover>;
}

/**
 * @throws ConfigurationError for unusable options (checked here, before any request).
 */
export function createGatehouseClient(options: GatehouseClientOptions): GatehouseClient {
  if (!options.clientId) throw new ConfigurationError('clientId is required');
  if (options.clientSecret !== undefined && options.clientSecret === '') throw new ConfigurationError('clientSecret is empty: omit it for a public client');
  const endpoints = resolveEndpoints(options);
  const defaultScope = typeof options.scope === 'string' ? options.scope.trim() : options.scope.join(' ');
  if (!defaultScope) throw new ConfigurationError('scope is required (RFC 6749 §3.3: Gatehouse has no default scope)');
  const cipher = createTokenCipher(typeof options.encryptionKeys === 'string' ? parseEncryptionKeys(options.encryptionKeys) : options.encryptionKeys);
  const refreshMarginSeconds = options.refreshMarginSeconds ?? 60;
  if (!(refreshMarginSeconds >= 0)) throw new ConfigurationError('refreshMarginSeconds must be 0 or more');
  const urnNamespace = options.urnNamespace ?? 'gatehouse';
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? jsonLineLogger;
  const retryPolicy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retryPolicy };
  const sleep = options.sleep ?? realSleep;
  const random = options.random ?? Math.random;
  const transactionLifetimeSeconds = options.transactionLifetimeSeconds ?? 600;
  // The SHA-256 of each transaction's state this process has taken a callback for, with when (seconds): kept
  // as long as a transaction lives, after which validateCallback refuses it anyway.
  const usedTransactions = new Map<string, number>();
  const { store } = options;
  const events = createClientEvents();
  const transport: TransportSettings = {
    allowLoopbackHttp: endpoints.allowLoopbackHttp,
    timeoutMilliseconds: options.httpTimeoutMilliseconds ?? 10_000,
    fetch: options.fetch,
  };
  const tokenEndpointAuthMethod = options.clientSecret === undefined ? 'none' : 'client_secret_basic';
  const log = createLogWriter(logger, clock);

  // Discovery once, lazily; a failure is not cached, so the next call tries again.
  let oauthContext: Promise<OAuthContext> | undefined;
  const context = (): Promise<OAuthContext> => {
    oauthContext ??= discoverAuthorizationServer(endpoints.issuer, transport, tokenEndpointAuthMethod).then((as) => ({
      as,
      client: { client_id: options.clientId, token_endpoint_auth_method: tokenEndpointAuthMethod },
      // SPEC decision 1: confidential clients use HTTP Basic only; public clients send client_id and no secret.
      clientAuthentication: options.clientSecret === undefined ? oauth.None() : oauth.ClientSecretBasic(options.clientSecret),
      transport,
    }), (error: unknown) => {
      oauthContext = undefined;
      throw error;
    });
    return oauthContext;
  };

  // RFC 9449: DPoP handles of connections (oauth4webapi keeps each key's server nonces in its handle).
  const dpopEnabled = options.dpop !== false;
  const callerKeyPair = typeof options.dpop === 'object' ? options.dpop.keyPair : undefined;
  const handleOf = (oauthContext: OAuthContext, keyPair: CryptoKeyPair): oauth.DPoPHandle => oauth.DPoP(oauthContext.client, keyPair, {
    // Proofs are stamped with this client's clock (injectable), not oauth4webapi's own (RFC 9449 §4.2 iat).
    [oauth.modifyAssertion]: (_header, payload) => {
      payload.iat = clock.nowSeconds();
    },
  });
  let callerHandle: oauth.DPoPHandle | undefined;
  /** Handles of stored keys, by ciphertext (at most DPOP_HANDLE_CACHE_SIZE, least recently used dropped). */
  const storedHandles = new Map<string, Promise<oauth.DPoPHandle>>();
  const storedHandle = (oauthContext: OAuthContext, connectionId: string, ciphertext: string): Promise<oauth.DPoPHandle> => {
    let handle = storedHandles.get(ciphertext);
    if (handle === undefined) {
      handle = Promise.resolve().then(() => importDpopKey(cipher.open(ciphertext, { connectionId, field: 'dpop_private_key' })))
        .then((keyPair) => handleOf(oauthContext, keyPair));
      handle.catch(() => storedHandles.delete(ciphertext));
    }
    storedHandles.delete(ciphertext);
    storedHandles.set(ciphertext, handle);
    if (storedHandles.size > DPOP_HANDLE_CACHE_SIZE) storedHandles.delete(storedHandles.keys().next().value!);
    return handle;
  };
  /**
   * RFC 9449: the DPoP handle for a connection's token requests and API calls: its stored key; else the
   * caller's key pair; else (DPoP on and offered, `mayCreate`) a new key, returned sealed in
   * `newKeyCiphertext` for the caller to store with the tokens it binds; else undefined (Bearer). With
   * `mayCreate` (a refresh, which writes the row) a stored key sealed under an older encryption key comes
   * back re-sealed in `newKeyCiphertext` too.
   */
  const connectionDpop = async (
    oauthContext: OAuthContext, connectionId: string, stored: string | null, mayCreate: boolean,
  ): Promise<{ handle: oauth.DPoPHandle; newKeyCiphertext?: string } | undefined> => {
    if (stored !== null) {
      const handle = await storedHandle(oauthContext, connectionId, stored);
      // Key rotation (encryption.ts): a refresh re-seals the key under the current encryption key, as it does the tokens.
      if (!mayCreate || cipher.keyIdOf(stored) === cipher.currentKeyId) return { handle };
      const newKeyCiphertext = cipher.seal(cipher.open(stored, { connectionId, field: 'dpop_private_key' }), { connectionId, field: 'dpop_private_key' });
      storedHandles.set(newKeyCiphertext, Promise.resolve(handle));
      return { handle, newKeyCiphertext };
    }
    const alg = chooseDpopAlgorithm(oauthContext.as.dpop_signing_alg_values_supported);
    if (!dpopEnabled || alg === undefined) return undefined;
    if (callerKeyPair) return { handle: callerHandle ??= handleOf(oauthContext, callerKeyPair) };
    if (!mayCreate) return undefined;
    const { keyPair, serialized } = await generateDpopKey(alg);
    const newKeyCiphertext = cipher.seal(serialized, { connectionId, field: 'dpop_private_key' });
    const handle = handleOf(oauthContext, keyPair);
    storedHandles.set(newKeyCiphertext, Promise.resolve(handle));
    return { handle, newKeyCiphertext };
  };
  const withDpop = (oauthContext: OAuthContext, dpop: { handle: oauth.DPoPHandle } | undefined): OAuthContext =>
    (dpop ? { ...oauthContext, dpop: dpop.handle } : oauthContext);

  const owner: ConnectionOwner = { issuer: endpoints.issuer, clientId: options.clientId };
  // Connections whose API refused a refreshed token (its proof, RFC 9449 §7.1, or the token), so that they are not refreshed per call.
  const apiRefusals = createApiRefusals();
  const refresher = createRefresher({
    store, cipher, clock, logger, events, retryPolicy, sleep, random, refreshMarginSeconds, owner,
    lock: options.lock ?? processMemoryLock,
    lockNamespace: `${endpoints.issuer.href}|${options.clientId}`,
    connectionDpop: async (row: StoredConnection) => connectionDpop(await context(), row.connectionId, row.dpopKeyCiphertext, true),
    requestRefresh: async (refreshToken, dpop) => requestTokenRefresh(withDpop(await context(), dpop), refreshToken),
  });

  const retryTransient = <T>(operation: () => Promise<T>, policy: RetryPolicy = retryPolicy) => retryWithBackoff(operation, {
    policy, sleep, random,
    classify: transientFailureOf,
  }).catch((error: unknown) => {
    if (error instanceof RetriesExhaustedError) throw error.cause;
    throw error;
  });

  /**
   * The revocation of a grant a callback could not store runs while the user's browser waits for the callback's page:
   * at most 3 attempts, none started more than 3 s after the first, each request given at most 2 s (the configured
   * `retryPolicy` and `httpTimeoutMilliseconds` when smaller): about 5 s at worst, not the ~25 s of the usual budget.
   */
  const callbackRevocationPolicy: RetryPolicy = {
    maxAttempts: Math.min(retryPolicy.maxAttempts, 3),
    baseDelayMilliseconds: Math.min(retryPolicy.baseDelayMilliseconds, 250),
    maxDelayMilliseconds: Math.min(retryPolicy.maxDelayMilliseconds, 1_000),
    // A Retry-After past this budget ends the retries rather than being waited for (backoff.ts).
    maxElapsedMilliseconds: Math.min(retryPolicy.maxElapsedMilliseconds ?? 3_000, 3_000),
  };
  const CALLBACK_REVOCATION_REQUEST_TIMEOUT_MILLISECONDS = 2_000;
  /**
   * A callback's grant whose connection could not be stored: no one could ever use or disconnect it, so its refresh
   * token is revoked (RFC 7009 §2.1, SPEC decision 15: the whole grant), best effort, logged, and bounded
   * (`callbackRevocationPolicy`: about 5 s at worst, since the user's browser waits).
   * A response without a refresh token has only its access token to revoke (`tokenTypeHint` `access_token`).
   * @returns whether the server confirmed the revocation.
   */
  const revokeUnstoredGrant = async (
    oauthContext: OAuthContext, connectionId: string, token: string, storeError: unknown, tokenTypeHint: 'refresh_token' | 'access_token' = 'refresh_token',
  ): Promise<boolean> => {
    const reason = `the connection could not be stored (${(storeError as Error)?.message ?? String(storeError)})`;
    const fingerprint = tokenTypeHint === 'refresh_token'
      ? { refresh_token_fingerprint: tokenFingerprint(token) } : { access_token_fingerprint: tokenFingerprint(token) };
    const what = tokenTypeHint === 'refresh_token' ? 'the grant just issued' : 'the access token just issued';
    log({ event: 'revocation_attempt', connection_id: connectionId, ...fingerprint, reason });
    try {
      const bounded: OAuthContext = {
        ...oauthContext,
        transport: { ...oauthContext.transport, timeoutMilliseconds: Math.min(oauthContext.transport.timeoutMilliseconds, CALLBACK_REVOCATION_REQUEST_TIMEOUT_MILLISECONDS) },
      };
      await retryTransient(() => revokeToken(bounded, token, tokenTypeHint), callbackRevocationPolicy);
    } catch (error) {
      log({
        event: 'revoked', connection_id: connectionId, outcome: 'failed', ...fingerprint,
        reason: `${reason}; ${what} was not revoked: ${error instanceof AuthorizationServerError ? error.error : (error as { reason?: string }).reason ?? (error as Error).name}`,
      });
      return false;
    }
    log({ event: 'revoked', connection_id: connectionId, outcome: 'succeeded', ...fingerprint, reason: `${reason}; ${what} was revoked` });
    return true;
  };

  const handoverReplayStore = options.sessionHandoverReplayStore ?? createMemorySessionHandoverReplayStore();
  let handoverVerifier: SessionHandoverVerifier | undefined;

  return {
    events,
    clientId: options.clientId,

    async verifySessionHandover(url) {
      if (!handoverVerifier) {
        const { as } = await context();
        handoverVerifier = createSessionHandoverVerifier({
          issuer: as.issuer, clientId: options.clientId, jwksUri: as.jwks_uri ?? new URL('.well-known/jwks.json', `${as.issuer.replace(/\/$/, '')}/`).href,
          urnNamespace, replayStore: handoverReplayStore, clock, ...(options.fetch ? { fetch: options.fetch } : {}),
        });
      }
      return handoverVerifier.verify(url);
    },
    discover: async () => (await context()).as,

    async authorizationUrl(authorizationOptions = {}) {
      // A flow whose callback would be refused (another client's or issuer's row under the id) is refused at its start.
      if (authorizationOptions.connectionId !== undefined) {
        const existing = await store.get(authorizationOptions.connectionId);
        if (existing) assertConnectionOwner(existing, owner);
      }
      return buildAuthorizationRequest(await context(), {
        redirectUri: options.redirectUri, defaultScope, urnNamespace, nowSeconds: clock.nowSeconds(),
      }, authorizationOptions);
    },

    async handleCallback(callbackUrl, transaction) {
      const oauthContext = await context();
      const url = typeof callbackUrl === 'string' ? new URL(callbackUrl) : callbackUrl;
      const parameters = validateCallback(oauthContext, url, transaction, clock.nowSeconds(), transactionLifetimeSeconds);
      const stateDigest = hash('sha256', transaction.state, 'base64url');
      const takenAt = clock.nowSeconds();
      if (usedTransactions.has(stateDigest)) throw new CallbackValidationError('this authorization transaction was already used: start a new authorization');
      for (const [digest, at] of usedTransactions) if (takenAt - at > transactionLifetimeSeconds) usedTransactions.delete(digest);
      usedTransactions.set(stateDigest, takenAt);
      const connectionId = transaction.connectionId ?? randomUUID();
      // RFC 6749 §10.4: another client's (or issuer's) connection is not this client's to replace: refused before the code
      // is sent, so nothing is issued. (It was replaced, with only a log line saying its token was not revoked.)
      if (transaction.connectionId !== undefined) {
        const existing = await store.get(connectionId);
        if (existing) assertConnectionOwner(existing, owner);
      }
      // RFC 9449: a new connection binds its tokens to a new key, stored with them below.
      const dpop = await connectionDpop(oauthContext, connectionId, null, true);
      const sentAt = clock.nowSeconds();
      const response = await exchangeAuthorizationCode(withDpop(oauthContext, dpop), parameters, transaction.redirectUri, transaction.codeVerifier);
      if (response.refresh_token === undefined) {
        // Gatehouse issues a refresh token with every code (SPEC §3); without one the connection would die with its access
        // token and could never be refreshed nor revoked as a grant: a broken server, refused, nothing stored. Its access
        // token, held by nothing, is revoked (RFC 7009 §2.1, best effort).
        const refused = new InvalidResponseError('the token response has no refresh_token');
        const revoked = await revokeUnstoredGrant(oauthContext, connectionId, response.access_token, refused, 'access_token');
        throw new InvalidResponseError(`the token response has no refresh_token (Gatehouse always issues one): nothing was connected or stored, and the access token just issued ${revoked ? 'was revoked' : 'could not be revoked (it expires by itself)'}`);
      }
      const subjectMember = `urn:${urnNamespace}:params:oauth:subject_urn`;
      const subjectUrn = response[subjectMember];
      if (typeof subjectUrn !== 'string' || !parseSubjectUrn(urnNamespace, subjectUrn)) {
        // No connection can be stored without its subject: the grant just issued would be held by nothing, as when the
        // store fails below, so it is revoked (best effort) before the response is refused.
        const refused = new InvalidResponseError(`the token response has no valid ${subjectMember}`);
        await revokeUnstoredGrant(oauthContext, connectionId, response.refresh_token, refused);
        throw refused;
      }
      const accessTokenExpiresAt = response.expires_in === undefined ? null : sentAt + response.expires_in;
      const now = clock.nowSeconds();
      // Whether the new connection reached the store: until it has, the grant just issued is held by nothing but this call.
      let stored = false;
      const row = await refresher.withConnectionLock(connectionId, async () => {
        const previous = await store.get(connectionId);
        // Checked again under the lock: a row saved under the id by another client since is kept, and the grant just
        // issued, which cannot be stored, revoked (the catch below).
        if (previous) assertConnectionOwner(previous, owner);
        const refreshTokenCiphertext = cipher.seal(response.refresh_token!, { connectionId, field: 'refresh_token' });
        let saved: StoredConnection;
        try {
          saved = await store.save({
            connectionId, issuer: oauthContext.as.issuer, clientId: options.clientId, subjectUrn,
            // RFC 6749 §5.1: scope omitted = as requested.
            scope: response.scope ?? transaction.scope,
            status: 'active', statusReason: null,
            accessTokenCiphertext: cipher.seal(response.access_token, { connectionId, field: 'access_token' }),
            refreshTokenCiphertext,
            accessTokenExpiresAt, createdAt: now, updatedAt: now,
            dpopKeyCiphertext: dpop?.newKeyCiphertext ?? null,
          });
        } catch (error) {
          // The write may have committed with only its reply lost (a dropped database connection): the row then holds this
          // very ciphertext (sealed with a random IV, so no other write has it), and the connection is stored, not to be revoked.
          const reread = await store.get(connectionId).catch(() => undefined);
          if (reread?.refreshTokenCiphertext == null || !secretsEqual(reread.refreshTokenCiphertext, refreshTokenCiphertext)) throw error;
          saved = reread;
        }
        stored = true;
        // A reconnect to another subject would leave the old grant alive at the server: revoke it (best effort;
        // a reconnect to the same subject supersedes it there anyway, SPEC decision 11). The row is ours (checked above).
        if (previous?.refreshTokenCiphertext && previous.subjectUrn !== subjectUrn) {
          let oldRefreshToken: string;
          try {
            oldRefreshToken = cipher.open(previous.refreshTokenCiphertext, { connectionId, field: 'refresh_token' });
          } catch (error) {
            // Its key was dropped (or the row tampered with): nothing can be sent, and the new connection, saved above,
            // stands. This threw DecryptionError after saving, so the reconnect that heals such a connection "failed".
            if (!(error instanceof DecryptionError)) throw error;
            log({
              event: 'revoked', connection_id: connectionId, outcome: 'failed',
              reason: `the grant replaced by a reconnect to another subject was not revoked: its refresh token could not be decrypted (${error.message})`,
            });
            return saved;
          }
          // Best effort, but never silent: the old grant may still be alive at the server (names and codes only, no token).
          await revokeToken(oauthContext, oldRefreshToken, 'refresh_token').catch((error: unknown) => {
            log({
              event: 'revoked', connection_id: connectionId, outcome: 'failed', refresh_token_fingerprint: tokenFingerprint(oldRefreshToken),
              reason: `the grant replaced by a reconnect to another subject was not revoked: ${error instanceof AuthorizationServerError ? error.error : (error as { reason?: string }).reason ?? (error as Error).name}`,
            });
          });
        }
        return saved;
      }).catch(async (error: unknown) => {
        if (stored) throw error;
        throw new ConnectionNotStoredError(connectionId, await revokeUnstoredGrant(oauthContext, connectionId, response.refresh_token!, error), error);
      });
      const connection = toConnection(row, urnNamespace);
      log({
        event: 'connected', connection_id: connectionId, outcome: 'succeeded',
        access_token_fingerprint: tokenFingerprint(response.access_token), refresh_token_fingerprint: tokenFingerprint(response.refresh_token),
        access_token_expires_at: accessTokenExpiresAt,
      });
      emitSafely(events, 'connected', { connectionId, subjectUrn, scope: connection.scope });
      return { connection, tokens: new ConnectionTokens(response.access_token, response.refresh_token, accessTokenExpiresAt) };
    },

    async getConnection(connectionId) {
      const row = await store.get(connectionId);
      return row && toConnection(row, urnNamespace);
    },

    async listConnections() {
      return (await store.list()).map((row) => toConnection(row, urnNamespace));
    },

    async getAccessToken(connectionId) {
      return (await refresher.accessToken(connectionId)).accessToken;
    },

    async refresh(connectionId) {
      return toConnection(await refresher.refreshNow(connectionId), urnNamespace);
    },

    async fetch(connectionId, url, init) {
      return apiRequest(refresher, {
        apiUrl: endpoints.apiUrl, transport, apiRefusals,
        // RFC 9449 §7: the key the lease's tokens are bound to. Discovery failing here leaves the request
        // without a proof: a Bearer token still works, a bound one is refused.
        dpop: async (lease) => (await context().then(
          (oauthContext) => connectionDpop(oauthContext, connectionId, lease.dpopKeyCiphertext, false), () => undefined))?.handle,
      }, connectionId, url, init);
    },

    async revoke(connectionId, revokeOptions = {}) {
      return refresher.withConnectionLock(connectionId, async (): Promise<RevokeOutcome> => {
        const row = await store.get(connectionId);
        if (!row) throw new ConnectionNotFoundError(connectionId);
        // Before the token is opened or discovery runs: nothing goes to an issuer or client it was not issued to. A row
        // holding no tokens is not another client's or issuer's to delete either (it was, with a 'revoked' event).
        assertConnectionOwner(row, owner);
        let outcome: RevokeOutcome = 'no_tokens';
        if (row.refreshTokenCiphertext !== null) {
          let refreshToken: string | undefined;
          try {
            refreshToken = cipher.open(row.refreshTokenCiphertext, { connectionId, field: 'refresh_token' });
          } catch (error) {
            if (!(error instanceof DecryptionError) || revokeOptions.undecryptable !== 'delete') throw error;
            // Nothing can be sent: the user asked to forget the connection, so it is deleted and the grant left (logged, and
            // the outcome says so, for the app to tell the user it may still show as connected at the server).
            log({
              event: 'revoked', connection_id: connectionId, outcome: 'skipped',
              reason: `the connection is deleted without revoking its grant: its refresh token could not be decrypted (${error.message})`,
            });
            outcome = 'deleted_undecryptable';
          }
          if (refreshToken !== undefined) {
            log({ event: 'revocation_attempt', connection_id: connectionId, refresh_token_fingerprint: tokenFingerprint(refreshToken) });
            const oauthContext = await retryTransient(context);
            outcome = 'revoked';
            try {
              await retryTransient(() => revokeToken(oauthContext, refreshToken, 'refresh_token'));
            } catch (error) {
              // Gatehouse revoked the grant with the client (nothing is left to revoke): forget the tokens.
              const clientDeleted = error instanceof AuthorizationServerError && error.error === 'invalid_client' && error.errorDescription === 'client is deleted';
              if (!clientDeleted) {
                log({ event: 'revoked', connection_id: connectionId, outcome: 'failed', reason: (error as Error).message });
                throw error;
              }
              outcome = 'client_deleted';
            }
          }
        }
        try {
          await store.delete(connectionId);
        } catch (error) {
          if (outcome !== 'revoked' && outcome !== 'client_deleted') throw error;
          // The grant is gone but the row is kept: say both, so that the caller deletes it again (a second revoke).
          log({ event: 'revoked', connection_id: connectionId, outcome: 'failed', reason: `revoked at the authorization server, but the token store could not delete the connection: ${(error as Error)?.message ?? String(error)}` });
          throw new ConnectionNotDeletedError(connectionId, error);
        }
        if (outcome !== 'deleted_undecryptable') log({ event: 'revoked', connection_id: connectionId, outcome: 'succeeded' });
        emitSafely(events, 'revoked', { connectionId, subjectUrn: row.subjectUrn, outcome });
        return outcome;
      });
    },
  };
}
