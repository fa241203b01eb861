/**
 * DPoP-bound access tokens at the resource server (RFC 9449 §7): `Authorization: DPoP <token>` with a
 * `DPoP` proof for this very request (`htm`, `htu`, `ath`, `iat` window, `jti` not seen before) made with
 * the key the token is bound to (`cnf.jkt`). Refusals answer with a `WWW-Authenticate: DPoP` challenge
 * (§7.1). The proof's checks themselves are `@gatehouse/protocol/dpop` (shared with the authorization
 * server), on jose.
 *
 * Replay (§11.1): each verifier remembers the proofs it accepted in memory, until their `iat` window
 * ends. Several resource-server instances do not share that memory: a proof replayed to another instance
 * within the window is accepted there once. Deployments with several instances either keep the window
 * short (`dpopProofWindowSeconds`) or route by client; the authorization server's store is shared.
 */
import { DEFAULT_DPOP_PROOF_WINDOW_SECONDS, DPOP_SIGNING_ALGORITHMS, DpopProofError, singleDpopHeader, verifyDpopProof } from '@gatehouse/protocol/dpop';
import { INVALID_TOKEN_DESCRIPTION } from './bearer-token-error.ts';
import { quoteAuthParam } from './challenge.ts';
import { ResourceServerError } from './resource-server-error.ts';

/** The error codes of a `WWW-Authenticate: DPoP` challenge (RFC 9449 §7.1, RFC 6750 §3.1). */
export type DpopErrorCode = 'invalid_request' | 'invalid_token' | 'invalid_dpop_proof' | 'insufficient_scope';

const STATUS: Readonly<Record<DpopErrorCode, number>> = {
  invalid_request: 400,
  invalid_token: 401,
  invalid_dpop_proof: 401,
  insufficient_scope: 403,
};

/** RFC 9449 §7.1: `DPoP algs="…", error="…", error_description="…"[, scope="…"]`. */
export function formatDpopChallenge(challenge: { error?: DpopErrorCode; errorDescription?: string; scope?: readonly string[]; algorithms?: readonly string[] }): string {
  const params = [`algs=${quoteAuthParam((challenge.algorithms ?? DPOP_SIGNING_ALGORITHMS).join(' '))}`];
  if (challenge.error !== undefined) {
    params.push(`error=${quoteAuthParam(challenge.error)}`);
    if (challenge.errorDescription !== undefined) params.push(`error_description=${quoteAuthParam(challenge.errorDescription)}`);
  }
  if (challenge.scope !== undefined && challenge.scope.length > 0) params.push(`scope=${quoteAuthParam(challenge.scope.join(' '))}`);
  return `DPoP ${params.join(', ')}`;
}

/**
 * A refusal of a request with a DPoP-bound token (RFC 9449 §7.1), rendered like every
 * {@link ResourceServerError}: 400 `invalid_request`, 401 `invalid_token` (one fixed description, the
 * cause in `reason`) or `invalid_dpop_proof`, 403 `insufficient_scope`; with `WWW-Authenticate: DPoP`.
 */
export class DpopTokenError extends ResourceServerError {
  readonly dpopError: DpopErrorCode;
  /** Why, for logs only; holds no token or proof value. */
  readonly reason: string | undefined;
  readonly requiredScopes: readonly string[];

  constructor(dpopError: DpopErrorCode, errorDescription: string, options: { reason?: string; requiredScopes?: readonly string[] } = {}) {
    const requiredScopes = options.requiredScopes ?? [];
    super(STATUS[dpopError], dpopError, errorDescription, {
      'www-authenticate': formatDpopChallenge({ error: dpopError, errorDescription, scope: dpopError === 'insufficient_scope' ? requiredScopes : undefined }),
    });
    this.dpopError = dpopError;
    this.reason = options.reason;
    this.requiredScopes = requiredScopes;
  }

  override get body() {
    if (this.dpopError === 'insufficient_scope') return { error: this.error, error_description: this.errorDescription, scope: this.requiredScopes.join(' ') };
    return super.body;
  }

  /** 401 `invalid_token` with the fixed description (no oracle); `reason` for logs. */
  static invalidToken(reason: string): DpopTokenError {
    return new DpopTokenError('invalid_token', INVALID_TOKEN_DESCRIPTION, { reason });
  }
}

/** RFC 9449 §7.1: `Authorization: DPoP <token68>`; the scheme is case-insensitive (RFC 9110 §11.1). */
const DPOP_CREDENTIALS = /^DPoP +([A-Za-z0-9\-._~+/]+=*)$/i;

/** Whether the request's single `Authorization` value uses the DPoP scheme. */
export function usesDpopScheme(authorizationHeader: string | readonly string[] | undefined): boolean {
  const value = typeof authorizationHeader === 'string' ? authorizationHeader : authorizationHeader?.length === 1 ? authorizationHeader[0] : undefined;
  return value !== undefined && /^dpop[ \t]/i.test(value.trim());
}

/**
 * The access token of `Authorization: DPoP <token>`.
 * @throws {DpopTokenError} 400 `invalid_request` when there are several Authorization values or it is malformed.
 */
export function extractDpopToken(authorizationHeader: string | readonly string[] | undefined): string {
  const values = typeof authorizationHeader === 'string' ? [authorizationHeader] : (authorizationHeader ?? []);
  if (values.length !== 1 || values[0]!.includes(',')) throw new DpopTokenError('invalid_request', 'The request must carry exactly one Authorization header');
  const match = DPOP_CREDENTIALS.exec(values[0]!.trim());
  if (match === null || match[1] === undefined) throw new DpopTokenError('invalid_request', 'The Authorization header is not a well-formed DPoP credential (RFC 9449 section 7.1)');
  return match[1];
}

/** Every `DPoP` header value of a request (RFC 9449 §4.3 item 1: two are refused), or `undefined` when there is none. */
export function dpopHeaderValues(rawHeaders: readonly string[]): string[] | undefined {
  const values: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) if (rawHeaders[index]?.toLowerCase() === 'dpop') values.push(rawHeaders[index + 1] ?? '');
  return values.length === 0 ? undefined : values;
}

/** Remembers accepted proofs until their window ends, in memory, at most `maxEntries` (oldest evicted first). */
export interface DpopReplayCache {
  /** @returns true when `key` was not seen (and records it until `expiresAtMs`), false for a replay. */
  recordOnce(key: string, expiresAtMs: number, nowMs: number): boolean;
}

export function createDpopReplayCache(maxEntries: number): DpopReplayCache {
  // A Map keeps insertion order, and entries are inserted in (roughly) expiry order: the oldest go first.
  const seen = new Map<string, number>();
  return {
    recordOnce(key, expiresAtMs, nowMs) {
      const known = seen.get(key);
      if (known !== undefined && known > nowMs) return false;
      if (known !== undefined) seen.delete(key);
      for (const [oldKey, expiry] of seen) {
        if (expiry > nowMs && seen.size < maxEntries) break;
        seen.delete(oldKey);
      }
      seen.set(key, expiresAtMs);
      return true;
    },
  };
}

export interface DpopRequestCheck {
  /** The request's `DPoP` header value(s). */
  readonly proof: string | readonly string[] | undefined;
  /** The request method, e.g. `GET`. */
  readonly method: string;
  /** The absolute URI the client addressed (its query and fragment are ignored). */
  readonly uri: string;
  readonly accessToken: string;
  /** The token's `cnf.jkt`. */
  readonly jkt: string;
}

/**
 * RFC 9449 §7.1 / §4.3: the proof is one well-formed `dpop+jwt` for this method and URI, recent, naming
 * this token (`ath`), made with the token's key (`jkt`), and not seen before.
 * @throws {DpopTokenError} 401 `invalid_dpop_proof` naming the failed check.
 */
export async function checkDpopProof(check: DpopRequestCheck, options: { nowMs: number; windowSeconds?: number; replayCache: DpopReplayCache }): Promise<void> {
  const windowSeconds = options.windowSeconds ?? DEFAULT_DPOP_PROOF_WINDOW_SECONDS;
  let verified;
  try {
    // §4.3 item 1: exactly one DPoP header; §7: a bound token needs a proof.
    const header = singleDpopHeader(typeof check.proof === 'object' ? [...check.proof] : check.proof);
    if (header === undefined) throw new DpopProofError('a DPoP proof is required with a DPoP access token');
    verified = await verifyDpopProof(header, {
      htm: check.method.toUpperCase(), htu: check.uri, nowSeconds: Math.floor(options.nowMs / 1000), windowSeconds, accessToken: check.accessToken,
    });
  } catch (error) {
    if (error instanceof DpopProofError) throw new DpopTokenError('invalid_dpop_proof', `The DPoP proof is invalid: ${error.description}`);
    throw error;
  }
  // §7.1 / §4.3 item 12: the proof's key is the one the token is bound to.
  if (verified.jkt !== check.jkt) throw new DpopTokenError('invalid_dpop_proof', 'The DPoP proof is invalid: it was made with another key than the access token is bound to');
  // §11.1: a proof is accepted once within its window.
  if (!options.replayCache.recordOnce(`${verified.jkt}.${verified.jti}`, (verified.iat + windowSeconds + 1) * 1000, options.nowMs)) {
    throw new DpopTokenError('invalid_dpop_proof', 'The DPoP proof is invalid: it was already used (jti)');
  }
}
