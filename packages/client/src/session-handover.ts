/**
 * Session handover (SPEC §3, last bullet): when a user opens this app from Gatehouse (the marketplace's
 * "Connect", connected apps' "Settings"), Gatehouse redirects to the app's initiation or settings URI
 * with `?<ns>_id_token=<JWT>`, a short-lived (≤ 300 s) token saying who the user is and which company
 * (or organization) they act for. It is NOT an access token and grants nothing: use it to pre-select the
 * company and start the OAuth flow with `urn_<ns>_params_oauth_subject`, never to call the API.
 *
 * `verifySessionHandover` checks, in order: the parameter is present and one JWS; the signature against
 * the issuer's JWKS (ES256, by `kid`); header `typ` `<ns>_id+jwt` (so an `at+jwt` access token, signed
 * by another key of the same JWKS, is refused); `iss`; `aud` = this client ID; `exp`/`iat` with a small
 * skew; the claims' shapes; and finally one-time use: the `jti` is claimed in a replay store until the
 * token expires (the partner side keeps the `jti`; Gatehouse records it when issuing).
 */
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { systemClock, type Clock } from './clock.ts';
import { isUuid, parseSubjectUrn, type SubjectType } from '@gatehouse/protocol';
import { ConfigurationError, GatehouseClientError } from './errors.ts';

/** Why a handover was refused. */
export type SessionHandoverRefusal =
  | 'missing' | 'malformed' | 'invalid_signature' | 'wrong_type' | 'wrong_issuer' | 'wrong_audience' | 'expired' | 'invalid_claims' | 'replayed' | 'jwks_unavailable';

/** A handover token failed a check; `reason` says which. The message never contains the token. */
export class SessionHandoverError extends GatehouseClientError {
  override readonly name = 'SessionHandoverError';
  readonly reason: SessionHandoverRefusal;
  constructor(reason: SessionHandoverRefusal, message: string) {
    super(`session handover refused (${reason}): ${message}`);
    this.reason = reason;
  }
}

/** Who arrived, as the verified token says. */
export interface SessionHandover {
  /** The Gatehouse user ID (`sub`). */
  userId: string;
  subjectType: SubjectType;
  /** The company or organization ID. */
  subjectId: string;
  /** `subjectId` when the subject is a company, else undefined. */
  companyId: string | undefined;
  /** `urn:<ns>:company:<uuid>` or `urn:<ns>:organization:<uuid>`: pass it as `subjectUrn` to `authorizationUrl`. */
  subjectUrn: string;
  /** BCP 47 tag, e.g. `en`. */
  locale: string;
  /** `jti`. */
  tokenId: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  /** Seconds since the epoch. */
  expiresAt: number;
}

/**
 * Remembers used `jti`s until their token expires. Share one across instances (e.g. a database table)
 * when the app runs several; the memory one is per process.
 */
export interface SessionHandoverReplayStore {
  /**
   * Atomically records `tokenId` as used. @returns false when it was already recorded (a replay).
   * `expiresAtSeconds` (epoch seconds) is when the record may be forgotten.
   */
  claim(tokenId: string, expiresAtSeconds: number, nowSeconds: number): Promise<boolean>;
}

/** A per-process replay store; forgets entries once their token has expired. */
export function createMemorySessionHandoverReplayStore(): SessionHandoverReplayStore {
  const used = new Map<string, number>();
  return {
    async claim(tokenId, expiresAtSeconds, nowSeconds) {
      for (const [id, expiresAt] of used) if (expiresAt < nowSeconds) used.delete(id);
      if (used.has(tokenId)) return false;
      used.set(tokenId, expiresAtSeconds);
      return true;
    },
  };
}

export interface SessionHandoverVerifierOptions {
  /** Gatehouse's issuer identifier (exact `iss`). */
  issuer: string;
  /** This app's client ID (the `aud`). */
  clientId: string;
  /** Default `<issuer>/.well-known/jwks.json` (the metadata's `jwks_uri`). */
  jwksUri?: string;
  /** Default `gatehouse`. Decides the `typ` (`<ns>_id+jwt`), the parameter (`<ns>_id_token`) and the URN. */
  urnNamespace?: string;
  /** Default a per-process memory store. */
  replayStore?: SessionHandoverReplayStore;
  /** Default the system clock. */
  clock?: Clock;
  /** Allowed clock difference with Gatehouse, seconds; default 5. */
  clockToleranceSeconds?: number;
  /** Replaces global `fetch` for the JWKS. */
  fetch?: typeof fetch;
}

export interface SessionHandoverVerifier {
  /**
   * Verifies the handover in `url` (the full URL the browser arrived at, or just its query).
   * @throws SessionHandoverError
   */
  verify(url: string | URL | URLSearchParams): Promise<SessionHandover>;
}

const JWS_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const MAX_LIFETIME_SECONDS = 300;

/** A verifier that keeps its JWKS cache (keys are fetched by `kid`, refetched on an unknown one). */
export function createSessionHandoverVerifier(options: SessionHandoverVerifierOptions): SessionHandoverVerifier {
  if (!options.issuer) throw new ConfigurationError('issuer is required');
  if (!options.clientId) throw new ConfigurationError('clientId is required');
  const urnNamespace = options.urnNamespace ?? 'gatehouse';
  const type = `${urnNamespace}_id+jwt`;
  const parameter = `${urnNamespace}_id_token`;
  const clock = options.clock ?? systemClock;
  const tolerance = options.clockToleranceSeconds ?? 5;
  const replayStore = options.replayStore ?? createMemorySessionHandoverReplayStore();
  const jwksUri = new URL(options.jwksUri ?? `${options.issuer.replace(/\/$/, '')}/.well-known/jwks.json`);
  // jose reports a JWKS answered with another status than 200, or with a body that is not JSON, as a generic
  // JOSEError, which `refusal` cannot tell from a malformed token: an outage of Gatehouse's JWKS endpoint (a 503)
  // was refused as 'malformed'. Such an answer is a JwksUnavailable here, jwks_unavailable to the caller.
  const fetchJwks = options.fetch ?? fetch;
  const jwks = createRemoteJWKSet(jwksUri, {
    [customFetch]: async (input: string, init: RequestInit) => {
      const response = await fetchJwks(input, init);
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => {});
        throw new JwksUnavailable(`the JWKS endpoint answered HTTP ${response.status}`);
      }
      let body: string;
      try {
        body = await response.text();
        JSON.parse(body);
      } catch {
        throw new JwksUnavailable('the JWKS endpoint answered a body that could not be read as JSON');
      }
      return new Response(body, { status: 200, headers: response.headers });
    },
  });

  return {
    async verify(url) {
      const query = url instanceof URLSearchParams ? url : new URL(url, 'http://handover.invalid').searchParams;
      const values = query.getAll(parameter);
      if (values.length === 0) throw new SessionHandoverError('missing', `no ${parameter} parameter`);
      if (values.length > 1) throw new SessionHandoverError('malformed', `${parameter} is repeated`);
      const token = values[0]!;
      if (!JWS_SHAPE.test(token)) throw new SessionHandoverError('malformed', 'not a compact JWS');
      const now = clock.nowSeconds();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          algorithms: ['ES256'], typ: type, issuer: options.issuer, audience: options.clientId,
          requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti'], currentDate: new Date(now * 1000), clockTolerance: tolerance,
        }));
      } catch (error) {
        throw refusal(error, type);
      }
      const claims = payload as JWTPayload & Record<string, unknown>;
      const subjectUrn = claims[`urn:${urnNamespace}:params:oauth:subject_urn`];
      const subject = typeof subjectUrn === 'string' ? parseSubjectUrn(urnNamespace, subjectUrn) : undefined;
      if (!subject || typeof subjectUrn !== 'string' || claims[`${subject.subjectType}_id`] !== subject.subjectId) {
        throw new SessionHandoverError('invalid_claims', 'the subject claims are missing or disagree');
      }
      if (typeof claims.sub !== 'string' || typeof claims.jti !== 'string' || !isUuid(claims.jti)) throw new SessionHandoverError('invalid_claims', 'sub or jti is malformed');
      const issuedAt = claims.iat!;
      const expiresAt = claims.exp!;
      // The token's own lifetime is bounded too: a long-lived "handover" is not one Gatehouse issues.
      if (expiresAt - issuedAt > MAX_LIFETIME_SECONDS || issuedAt > now + tolerance) throw new SessionHandoverError('invalid_claims', 'iat/exp outside the handover lifetime');
      if (!(await replayStore.claim(claims.jti, expiresAt + tolerance, now))) throw new SessionHandoverError('replayed', `jti ${claims.jti} was already used`);
      return {
        userId: claims.sub, subjectType: subject.subjectType, subjectId: subject.subjectId,
        companyId: subject.subjectType === 'company' ? subject.subjectId : undefined, subjectUrn,
        locale: typeof claims.locale === 'string' ? claims.locale : 'en', tokenId: claims.jti, issuedAt, expiresAt,
      };
    },
  };
}

/**
 * One-shot form: `createSessionHandoverVerifier(options).verify(url)`. Prefer keeping a verifier (it
 * caches the JWKS) and always pass a shared `replayStore`, or replays are only caught per call site.
 */
export function verifySessionHandover(url: string | URL | URLSearchParams, options: SessionHandoverVerifierOptions): Promise<SessionHandover> {
  return createSessionHandoverVerifier(options).verify(url);
}

/** The JWKS endpoint answered, but not with a JWK Set in JSON (an outage page, a 503, a 404). */
class JwksUnavailable extends Error {}

function refusal(error: unknown, type: string): SessionHandoverError {
  if (error instanceof JwksUnavailable) return new SessionHandoverError('jwks_unavailable', `the JWKS could not be fetched: ${error.message}`);
  if (error instanceof joseErrors.JWTExpired) return new SessionHandoverError('expired', 'the token has expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'typ') return new SessionHandoverError('wrong_type', `typ is not ${type} (an access token is never a handover)`);
    if (error.claim === 'iss') return new SessionHandoverError('wrong_issuer', 'iss is not the configured issuer');
    if (error.claim === 'aud') return new SessionHandoverError('wrong_audience', 'aud is not this client ID');
    return new SessionHandoverError('invalid_claims', `${error.claim} is invalid`);
  }
  if (error instanceof joseErrors.JWKSTimeout || (error instanceof joseErrors.JOSEError && error.code === 'ERR_JWKS_INVALID')) {
    return new SessionHandoverError('jwks_unavailable', 'the JWKS could not be fetched');
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed || error instanceof joseErrors.JWKSNoMatchingKey || error instanceof joseErrors.JOSEAlgNotAllowed) {
    return new SessionHandoverError('invalid_signature', 'the signature does not verify with the issuer\'s keys');
  }
  if (error instanceof joseErrors.JOSEError) return new SessionHandoverError('malformed', error.code);
  if (error instanceof TypeError) return new SessionHandoverError('jwks_unavailable', 'the JWKS could not be fetched');
  return new SessionHandoverError('malformed', 'the token could not be read');
}
