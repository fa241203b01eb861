/**
 * Calling the platform API with a connection's access token (RFC 6750 §2.1, through oauth4webapi's
 * `protectedResourceRequest`). The token goes only in the `Authorization: Bearer` header — never in a
 * URL or a body (RFC 6750 §2.2–2.3 methods are not used; RFC 9700 §2.4 recommends against them) — and
 * only to the configured API origin, so a URL taken from data cannot make the client send a token
 * elsewhere. On a 401 with `error="invalid_token"` (the token was revoked or superseded before its
 * expiry, RFC 6750 §3.1) the client refreshes once and repeats the request once; when the API refuses the refreshed
 * token too, its answer is returned, and so is each later refusal of that same token, without a refresh (an API that
 * refuses every token for its own reasons, e.g. its introspection credentials, rotated the tokens on every call).
 *
 * DPoP (RFC 9449): a 401 `use_dpop_nonce` (§9) is answered by sending the same token once more, with a proof
 * carrying the `DPoP-Nonce` the API gave (oauth4webapi's handle keeps it); no refresh. A 401 `invalid_dpop_proof`
 * (§7.1) refreshes once, since a token bound to another key than the proofs' (an older process's) heals that way;
 * when the refreshed token's proof is refused too, the fault is not the token's (the API's public origin, so every
 * `htu` mismatches; its clock): `DpopProofRejectedError`, and later refusals for that connection and key throw it
 * without a refresh, until the API accepts a request again. Refreshing on each call rotated the tokens per call.
 */
import * as oauth from 'oauth4webapi';
import { ConfigurationError, DpopProofRejectedError, InvalidApiRequestError } from './errors.ts';
import type { AccessTokenLease, Refresher } from './refresh.ts';
import { isAllowedUrl, networkFailure, requestOptions, type TransportSettings } from './transport.ts';

/** Request options: the `fetch` ones that make sense for an API call. */
export interface ApiRequestInit {
  /** Default `GET`; upper-cased. An HTTP token (RFC 9110 §9.1), else `InvalidApiRequestError` before anything is sent. */
  method?: string;
  /** Any headers but `Authorization`, which the client sets. */
  headers?: HeadersInit;
  /** Repeatable bodies only, so the request can be sent again after a refresh. None with GET or HEAD. */
  body?: string | Uint8Array | ArrayBuffer | URLSearchParams | null;
  /** Ends the request when aborted; the client's per-request timeout (`httpTimeoutMilliseconds`) applies as well. */
  signal?: AbortSignal;
}

export interface ResourceRequestSettings {
  /** Base URL of the platform API; relative URLs resolve against it, absolute ones must share its origin. */
  apiUrl: URL | undefined;
  transport: TransportSettings;
  /**
   * RFC 9449 §7: the DPoP handle the lease's token is bound to, if any; requests then send
   * `Authorization: DPoP` and a proof.
   */
  dpop?: ((lease: AccessTokenLease) => Promise<oauth.DPoPHandle | undefined>) | undefined;
  /** One per client: the connections whose API refused a refreshed token (`createApiRefusals`); none: never remembered. */
  apiRefusals?: ApiRefusals | undefined;
}

/**
 * Connections whose API refused the token a refresh had just given them, by connection ID, with the cause
 * (`refusalCause`): `invalid_dpop_proof` for the key the token is bound to (`AccessTokenLease.dpopKeyCiphertext`, or ''
 * for the caller's key pair), `invalid_token` for that token (its row revision). A later refusal for the same cause is
 * not worth a refresh. Bounded: at most `API_REFUSALS_SIZE` connections, the oldest forgotten (it then gets one refresh more).
 */
export type ApiRefusals = Map<string, string>;

const API_REFUSALS_SIZE = 10_000;

export function createApiRefusals(): ApiRefusals {
  return new Map();
}

/** What a refresh cannot change for a refusal: the key (a proof refused), or the token itself (the token refused). */
function refusalCause(refusal: 'invalid_token' | 'invalid_dpop_proof', lease: AccessTokenLease): string {
  return refusal === 'invalid_dpop_proof' ? `invalid_dpop_proof|${lease.dpopKeyCiphertext ?? ''}` : `invalid_token|${lease.generation}|${lease.version}`;
}

/**
 * @returns the API's response, whatever its status (a 403 `insufficient_scope` is the caller's to read; a 401
 *   `invalid_token` of a refreshed token, or of a token refused so before), but a DPoP proof refused after a refresh.
 * @throws ConfigurationError for a URL outside the API origin, or an `Authorization` header in `init`.
 * @throws InvalidApiRequestError, before any token is read or request sent, for a method that is not an HTTP token
 *   (RFC 9110 §9.1) or a body with GET or HEAD; and when `fetch` refuses to build the request.
 * @throws TransportError when the API cannot be reached; the refresher's errors when no token can be had; the reason of
 *   `init.signal` (an `AbortError` by default) when the caller aborted it.
 * @throws DpopProofRejectedError when the API refused the proof of a refreshed token (RFC 9449 §7.1), or refused the
 *   proof again for a connection and key a refresh already did not help (no refresh then).
 */
export async function apiRequest(
  refresher: Refresher, settings: ResourceRequestSettings, connectionId: string, url: string | URL, init: ApiRequestInit = {},
): Promise<Response> {
  const target = resolveApiUrl(settings, url);
  const headers = new Headers(init.headers);
  if (headers.has('authorization')) throw new ConfigurationError('do not set Authorization: the client adds the bearer token');
  const method = (init.method ?? 'GET').toUpperCase();
  if (!HTTP_TOKEN.test(method)) throw new InvalidApiRequestError('method_not_token', method);
  if ((method === 'GET' || method === 'HEAD') && init.body !== undefined && init.body !== null) throw new InvalidApiRequestError('body_not_allowed', method);
  const callerSignal = init.signal;
  const options = {
    ...requestOptions(settings.transport),
    // The caller's signal is added to the per-request timeout (`httpTimeoutMilliseconds`), not put in its place: it
    // replaced it, so a request given a signal that never aborts (cancel-on-disconnect) waited for an API that never
    // answered for ever.
    ...(callerSignal ? { signal: () => AbortSignal.any([callerSignal, AbortSignal.timeout(settings.transport.timeoutMilliseconds)]) } : {}),
  } as oauth.ProtectedResourceRequestOptions;

  const sendOnce = async (lease: AccessTokenLease): Promise<{ response: Response; withProof: boolean }> => {
    const dpop = await settings.dpop?.(lease);
    try {
      const response = await oauth.protectedResourceRequest(lease.accessToken, method, target, new Headers(headers), init.body ?? null, { ...options, ...(dpop ? { DPoP: dpop } : {}) });
      return { response, withProof: dpop !== undefined };
    } catch (error) {
      // oauth4webapi throws on any WWW-Authenticate challenge; the response itself is the answer here.
      if (error instanceof oauth.WWWAuthenticateChallengeError) {
        challengesOf.set(error.response, error.cause);
        return { response: error.response, withProof: dpop !== undefined };
      }
      // The caller cancelled (its own signal): its reason, as fetch rejects, not a TransportError "timed out"
      // (AbortError was taken for a timeout), which reads as the API being down. First, since the reason may be
      // anything, a TypeError included (it was then taken for fetch refusing to build the request).
      if (callerSignal?.aborted && error === callerSignal.reason) throw error;
      // fetch reports a request it cannot build as a TypeError without a cause, and a network failure as a
      // TypeError ("fetch failed") whose cause is the socket error: only the latter is worth retrying or blaming on the network.
      if (error instanceof TypeError && error.cause === undefined) {
        // oauth4webapi's own argument checks (code ERR_INVALID_ARG_*) are programming errors: thrown as they are.
        if ((error as { code?: unknown }).code !== undefined) throw error;
        // Its message may quote a header; no error ever holds a token (errors.ts).
        throw new InvalidApiRequestError('refused_by_fetch', method, error.message.includes(lease.accessToken) ? undefined : error.message);
      }
      // Cancelled while fetch failed otherwise (e.g. its body stream): still the caller's cancel.
      if (callerSignal?.aborted) throw callerSignal.reason;
      throw networkFailure(error, `${method} ${target.origin}${target.pathname}`);
    }
  };

  /** RFC 9449 §9: a `use_dpop_nonce` answer is sent once more with the same token; the handle has kept the API's nonce. */
  const send = async (lease: AccessTokenLease): Promise<Response> => {
    const { response, withProof } = await sendOnce(lease);
    if (!withProof || response.status !== 401 || challengeError(response) !== 'use_dpop_nonce') return response;
    await response.body?.cancel().catch(() => {});
    return (await sendOnce(lease)).response;
  };
  const refusals = settings.apiRefusals;
  const proofRefused = async (response: Response, lease: AccessTokenLease, refreshed: boolean): Promise<DpopProofRejectedError> => {
    await response.body?.cancel().catch(() => {});
    const description = challengeOf(response)?.parameters.error_description;
    return new DpopProofRejectedError(connectionId, refreshed, response.status, 'invalid_dpop_proof',
      // The API's text, cut short, printable characters only; never one quoting the token (errors.ts: no error holds one).
      typeof description === 'string' && !description.includes(lease.accessToken) ? description.replace(/[^\x20-\x7e]/g, '?').slice(0, 200) : undefined);
  };

  const first = await refresher.accessToken(connectionId);
  const response = await send(first);
  const refusal = response.status === 401 ? challengeError(response) : undefined;
  if (refusal !== 'invalid_token' && refusal !== 'invalid_dpop_proof') {
    // Accepted (or refused for another reason): a later refusal is a new cause, worth a refresh.
    refusals?.delete(connectionId);
    return response;
  }
  // A refresh already did not help for this cause (RFC 9449 §7.1: this key; RFC 6750 §3.1: this very token): another
  // one would only rotate the tokens again, a write at Gatehouse per call.
  if (refusals?.get(connectionId) === refusalCause(refusal, first)) {
    if (refusal === 'invalid_dpop_proof') throw await proofRefused(response, first, false);
    return response;
  }
  await response.body?.cancel().catch(() => {});
  const second = await refresher.accessTokenAfterRejection(connectionId, first);
  const retried = await send(second);
  const refusedAgain = retried.status === 401 ? challengeError(retried) : undefined;
  if (refusedAgain !== 'invalid_token' && refusedAgain !== 'invalid_dpop_proof') {
    refusals?.delete(connectionId);
    return retried;
  }
  if (refusals) {
    refusals.delete(connectionId);
    refusals.set(connectionId, refusalCause(refusedAgain, second));
    if (refusals.size > API_REFUSALS_SIZE) refusals.delete(refusals.keys().next().value!);
  }
  if (refusedAgain === 'invalid_dpop_proof') throw await proofRefused(retried, second, true);
  return retried;
}

/** RFC 9110 §5.6.2: `token = 1*tchar`. */
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The parsed `WWW-Authenticate` challenges of responses oauth4webapi flagged. */
const challengesOf = new WeakMap<Response, oauth.WWWAuthenticateChallenge[]>();

/**
 * The refusal of a 401 that matters here: `invalid_token` (RFC 6750 §3.1, Bearer or DPoP), `invalid_dpop_proof` and
 * `use_dpop_nonce` (RFC 9449 §7.1, §9: DPoP only); else undefined.
 */
function challengeError(response: Response): 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce' | undefined {
  const error = challengeOf(response)?.parameters.error;
  return error === 'invalid_token' || error === 'invalid_dpop_proof' || error === 'use_dpop_nonce' ? error : undefined;
}

function challengeOf(response: Response): oauth.WWWAuthenticateChallenge | undefined {
  const challenges = challengesOf.get(response) ?? [];
  return challenges.find((challenge) => (challenge.scheme === 'bearer' && challenge.parameters.error === 'invalid_token')
    || (challenge.scheme === 'dpop' && ['invalid_token', 'invalid_dpop_proof', 'use_dpop_nonce'].includes(challenge.parameters.error ?? '')));
}

/** @throws ConfigurationError when the URL is outside the API origin or not https (loopback http in development). */
export function resolveApiUrl(settings: ResourceRequestSettings, url: string | URL): URL {
  const { apiUrl } = settings;
  let target: URL;
  if (url instanceof URL || URL.canParse(url)) {
    target = new URL(url);
  } else {
    if (!apiUrl) throw new ConfigurationError(`"${url}" is relative and no apiUrl is configured`);
    // Relative to the API base, base path kept: `https://api.example/platform` + `/v1/users` → `https://api.example/platform/v1/users`.
    target = new URL(url.replace(/^\//, ''), apiUrl.href.endsWith('/') ? apiUrl : new URL(`${apiUrl.href}/`));
  }
  if (!apiUrl) throw new ConfigurationError('no apiUrl is configured: the client sends tokens only to the API origin');
  if (target.origin !== apiUrl.origin) throw new ConfigurationError(`refusing to send a token to ${target.origin}: only ${apiUrl.origin} receives tokens`);
  if (!isAllowedUrl(target, settings.transport.allowLoopbackHttp)) throw new ConfigurationError(`refusing to send a token over ${target.protocol} to ${target.host}`);
  if (target.username || target.password) throw new ConfigurationError('API URLs must not carry credentials');
  return target;
}
