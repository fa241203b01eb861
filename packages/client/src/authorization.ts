/**
 * The authorization request (RFC 6749 §4.1.1 with PKCE S256, RFC 7636 §4.1–4.3) and the checks on its
 * response (RFC 6749 §4.1.2, RFC 9207), through oauth4webapi.
 *
 * `buildAuthorizationRequest` returns the URL to send the user's browser to and a transaction (`state`,
 * `codeVerifier`, …) the caller keeps server-side, e.g. in its session store, never in the browser.
 * `validateCallback` checks the redirect back against that transaction: `state` (CSRF, RFC 6749
 * §10.12), `iss` (mix-up, RFC 9207 §2.4), an error response, the transaction's age.
 */
import { inspect } from 'node:util';
import * as oauth from 'oauth4webapi';
import { AuthorizationServerError, CallbackValidationError } from './errors.ts';
import type { OAuthContext } from './token-endpoint.ts';

/**
 * What to keep between redirecting the user and receiving the callback. Plain JSON (`JSON.stringify` keeps
 * every member, for a session store). The object `authorizationUrl` returns prints (`console.log`,
 * `util.inspect`) with `state` and `codeVerifier` as `[redacted]`; that redaction is a hidden property of that
 * one object and is lost on every copy: a JSON round trip (a session store's), a spread (`{ ...transaction }`),
 * `structuredClone` — such copies print both values in clear. Keep transactions out of logs. Times in epoch seconds.
 */
export interface AuthorizationTransaction {
  /** The `state` sent (RFC 6749 §4.1.1), 256 random bits. */
  readonly state: string;
  /** The PKCE `code_verifier` (RFC 7636 §4.1), 256 random bits; its S256 challenge was sent. */
  readonly codeVerifier: string;
  readonly redirectUri: string;
  /** Requested scope, space-separated. */
  readonly scope: string;
  /** The connection the callback creates or replaces; undefined = a new connection id. */
  readonly connectionId: string | undefined;
  readonly issuer: string;
  readonly clientId: string;
  readonly createdAt: number;
}

export interface AuthorizationUrlOptions {
  /** Scopes to request; default the client's configured scope. */
  scope?: string | readonly string[];
  /** Pre-selects the company or organization (`urn_<ns>_params_oauth_subject`, SPEC §2), e.g. when reconnecting. */
  subjectUrn?: string;
  /** `consent` forces the consent page even when an existing grant covers the scopes. */
  prompt?: 'consent';
  /**
   * Creates or replaces this connection id on callback (a reconnect keeps its id); default a new UUID. An id may be
   * reused after `revoke` deleted its connection: the new row has a new `StoredConnection.generation`, so no write
   * holding what was read of the old one applies to it.
   */
  connectionId?: string;
}

export interface AuthorizationRequestSettings {
  redirectUri: string;
  defaultScope: string;
  urnNamespace: string;
  nowSeconds: number;
}

export async function buildAuthorizationRequest(
  context: OAuthContext, settings: AuthorizationRequestSettings, options: AuthorizationUrlOptions = {},
): Promise<{ url: URL; transaction: AuthorizationTransaction }> {
  const scope = options.scope === undefined ? settings.defaultScope : typeof options.scope === 'string' ? options.scope : options.scope.join(' ');
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  // oauth4webapi leaves building the authorization URL to the caller: the endpoint from metadata plus
  // the RFC 6749 §4.1.1 / RFC 7636 §4.3 parameters.
  const url = new URL(context.as.authorization_endpoint!);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', context.client.client_id);
  url.searchParams.set('redirect_uri', settings.redirectUri);
  url.searchParams.set('scope', scope);
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  if (options.subjectUrn !== undefined) url.searchParams.set(`urn_${settings.urnNamespace}_params_oauth_subject`, options.subjectUrn);
  if (options.prompt !== undefined) url.searchParams.set('prompt', options.prompt);
  const transaction: AuthorizationTransaction = {
    state, codeVerifier, redirectUri: settings.redirectUri, scope, connectionId: options.connectionId,
    issuer: context.as.issuer, clientId: context.client.client_id, createdAt: settings.nowSeconds,
  };
  // Printed or inspected (a debug log of the session), it hides its secrets, as ConnectionTokens does. JSON
  // keeps them: the transaction is plain JSON for a session store to keep until the callback.
  Object.defineProperty(transaction, inspect.custom, { enumerable: false, value: redactedTransaction });
  return { url, transaction };
}

function redactedTransaction(this: AuthorizationTransaction): string {
  return `AuthorizationTransaction ${JSON.stringify({ ...this, state: '[redacted]', codeVerifier: '[redacted]' })}`;
}

/**
 * @returns the callback parameters, validated, ready for the code exchange.
 * @throws CallbackValidationError on a wrong `state` or `iss`, a callback for another redirect URI, an
 *   expired or foreign transaction.
 * @throws AuthorizationServerError for an error response (`access_denied` when the user denied).
 */
export function validateCallback(
  context: OAuthContext, callbackUrl: URL, transaction: AuthorizationTransaction, nowSeconds: number, transactionLifetimeSeconds: number,
): URLSearchParams {
  if (transaction.issuer !== context.as.issuer || transaction.clientId !== context.client.client_id) {
    throw new CallbackValidationError('the transaction belongs to another issuer or client');
  }
  if (nowSeconds - transaction.createdAt > transactionLifetimeSeconds) {
    throw new CallbackValidationError(`the authorization took longer than ${transactionLifetimeSeconds} s; start again`);
  }
  const expected = new URL(transaction.redirectUri);
  if (callbackUrl.origin !== expected.origin || callbackUrl.pathname !== expected.pathname) {
    throw new CallbackValidationError('the callback did not arrive at the redirect URI of this transaction');
  }
  // RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once".
  for (const name of ['code', 'state', 'iss', 'error']) {
    if (callbackUrl.searchParams.getAll(name).length > 1) throw new CallbackValidationError(`the callback carries "${name}" more than once`);
  }
  try {
    // Checks `iss` (required: discovery made sure the server advertises RFC 9207) and `state`.
    return oauth.validateAuthResponse(context.as, context.client, callbackUrl, transaction.state);
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      throw new AuthorizationServerError('authorization', error.error, error.error_description);
    }
    throw new CallbackValidationError(`the callback failed validation: ${(error as Error).message}`);
  }
}
