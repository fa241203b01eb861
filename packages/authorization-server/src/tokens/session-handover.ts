/**
 * Session handover tokens (SPEC §3, last bullet; issue "The user's side of the platform"): when a user
 * opens an app from the platform (marketplace "Connect", connected apps "Settings"), the browser is
 * redirected to the app's `initiation_uri` or `settings_uri` with `?<ns>_id_token=<JWT>` saying who the
 * user is and which company (or organization) they act for.
 *
 * Shape: a JWS signed with ES256 by the handover key (its own `kid`, published in the JWKS beside the
 * access-token key), header `typ` `<ns>_id+jwt`; claims `iss`, `aud` (the client ID), `sub` (the user
 * ID), `company_id` or `organization_id`, `urn:<ns>:params:oauth:subject_urn`, `locale`, `iat`, `exp`,
 * `jti`. Lifetime 120 s by default, never more than 300 s.
 *
 * It is never an access token: it is signed by a different key with a different `typ`, is never stored
 * as a token (only its `jti` is recorded, in the audit event `session_handover.issued`), so the token,
 * introspection and revocation endpoints cannot find it (`endpoints/introspection.ts` findToken accepts
 * only opaque tokens and `at+jwt` signed by the access-token key), and resource servers that validate
 * locally require `typ` `at+jwt`. One-time use is the receiving app's check (it keeps the `jti`;
 * `verifySessionHandover` in `@gatehouse/client`).
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ServerContext } from '../server-context.ts';
import type { ClientRecord, SubjectRecord, UserRecord } from '../storage/storage.ts';
import { formatSubjectUrn, subjectUrnMemberName } from '@gatehouse/protocol';
import { ACCESS_TOKEN_SIGNING_ALGORITHM, type SigningKey } from './signing-key.ts';

/** The default lifetime, seconds: long enough for a redirect and the app's first page, short enough to be useless later. */
export const SESSION_HANDOVER_LIFETIME_SECONDS = 120;
/** The upper bound, seconds. */
export const SESSION_HANDOVER_MAX_LIFETIME_SECONDS = 300;

/** `typ` header of a handover token: `<ns>_id+jwt`, e.g. `gatehouse_id+jwt`. */
export const sessionHandoverType = (urnNamespace: string) => `${urnNamespace}_id+jwt`;
/** The query parameter carrying it on the redirect: `<ns>_id_token`, e.g. `gatehouse_id_token`. */
export const sessionHandoverParameter = (urnNamespace: string) => `${urnNamespace}_id_token`;

/** Why the user is handed over: the page it lands on. Recorded in the audit event. */
export type SessionHandoverPurpose = 'initiation' | 'settings';

export interface SessionHandoverClaims {
  issuer: string;
  urnNamespace: string;
  /** The `aud`. */
  clientId: string;
  userId: string;
  subject: Pick<SubjectRecord, 'subjectType' | 'subjectId'>;
  /** BCP 47 tag, e.g. `en`. */
  locale: string;
  tokenId: string;
  /** Seconds since the epoch. */
  issuedAt: number;
  /** Seconds since the epoch; at most `issuedAt + SESSION_HANDOVER_MAX_LIFETIME_SECONDS`. */
  expiresAt: number;
}

/**
 * Signs a handover token with `key` (the handover key). Exported for tests that need one with chosen claims.
 * @throws RangeError when the lifetime exceeds SESSION_HANDOVER_MAX_LIFETIME_SECONDS or is not positive.
 */
export async function signSessionHandover(key: SigningKey, claims: SessionHandoverClaims): Promise<string> {
  const lifetime = claims.expiresAt - claims.issuedAt;
  if (!(lifetime > 0 && lifetime <= SESSION_HANDOVER_MAX_LIFETIME_SECONDS)) throw new RangeError(`a session handover lives 1-${SESSION_HANDOVER_MAX_LIFETIME_SECONDS} s`);
  const { subject, urnNamespace } = claims;
  return new SignJWT({
    [`${subject.subjectType}_id`]: subject.subjectId,
    [subjectUrnMemberName(urnNamespace)]: formatSubjectUrn(urnNamespace, subject.subjectType, subject.subjectId),
    locale: claims.locale,
  })
    .setProtectedHeader({ alg: ACCESS_TOKEN_SIGNING_ALGORITHM, typ: sessionHandoverType(urnNamespace), kid: key.kid })
    .setIssuer(claims.issuer)
    .setAudience(claims.clientId)
    .setSubject(claims.userId)
    .setJti(claims.tokenId)
    .setIssuedAt(claims.issuedAt)
    .setExpirationTime(claims.expiresAt)
    .sign(key.privateKey);
}

/**
 * Issues a handover for `user` acting for `subject` towards `client`, records its `jti` (never the token)
 * in the audit event `session_handover.issued`, and returns the URL to redirect to: `targetUri` with its
 * own query kept and `<ns>_id_token` appended. The caller has checked that the user administers the
 * subject and that the client is active and has `targetUri` registered.
 * @param locale the `locale` claim: the language the user's pages are in (issue 13, i18n/request-language.ts
 *   `requestLocale`), so the app can greet the user in it.
 */
export async function sessionHandoverRedirect(
  context: ServerContext, client: ClientRecord, user: UserRecord, subject: Pick<SubjectRecord, 'subjectType' | 'subjectId'>,
  targetUri: string, purpose: SessionHandoverPurpose, locale: string,
): Promise<string> {
  const { options } = context;
  const now = context.clock.nowSeconds();
  const tokenId = randomUUID();
  const token = await signSessionHandover(context.handoverSigningKey, {
    issuer: options.issuer, urnNamespace: options.brand.urnNamespace, clientId: client.clientId, userId: user.userId, subject,
    locale, tokenId, issuedAt: now, expiresAt: now + SESSION_HANDOVER_LIFETIME_SECONDS,
  });
  await context.storage.audit.record({
    type: 'session_handover.issued', at: now, actor: `user:${user.userId}`, clientId: client.clientId,
    details: { jti: tokenId, purpose, subject: formatSubjectUrn(options.brand.urnNamespace, subject.subjectType, subject.subjectId), expires_at: now + SESSION_HANDOVER_LIFETIME_SECONDS },
  });
  const url = new URL(targetUri);
  url.searchParams.append(sessionHandoverParameter(options.brand.urnNamespace), token);
  return url.href;
}
