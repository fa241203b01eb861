/**
 * The authorization endpoint (RFC 6749 §4.1.1–4.1.2, RFC 7636, RFC 9207; SPEC decisions 2–6, 11).
 *
 * GET /oauth/authorize validates the request, then shows the login page or, once the user is logged in,
 * stores the request server-side as an interaction bound to the login session (SPEC decision 11) and shows
 * the consent page, which carries only the interaction id. POST /oauth/authorize/decision consumes that
 * interaction (this session's, unexpired, unused; atomically, so a second post gets no second code), takes
 * the request from it — never from the form — and redirects with `code`, `state` and `iss`.
 *
 * Before login the login page returns to the authorization request itself (`return_to`), which is
 * validated again after login: the request is the client's, and what a user could alter in it is only
 * another request the client could have sent. The interaction starts when there is a session to bind it to.
 *
 * A request may come by reference (RFC 9126 §4): `client_id` and a `request_uri` from POST /oauth/par
 * (endpoints/pushed-authorization-request.ts), used once; every other parameter is then ignored. Such a
 * request, and one with `prompt=login`, crosses the login page as a fresh request_uri (request-uri.ts),
 * so a pushed request is never replayed by value and the time a request began stays server-side.
 * `prompt=none` never shows a page (`login_required`, `consent_required`, `interaction_required`);
 * `prompt=login` and `max_age` decide whether the session's login is recent enough (OIDC Core §3.1.2.1).
 *
 * Validation order (SPEC decision 5): while the client or redirect URI is not established, errors are
 * an HTML page and never a redirect; after that, errors redirect with `error`, `error_description`,
 * `state` (when valid) and `iss`.
 */
import { createHmac, hash, randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { redirectUriProblem, reservedResponseParameter } from '../clients/redirect-uri.ts';
import { errorDescription, OAuthError, type OAuthErrorCode } from '../errors.ts';
import { S256_CODE_CHALLENGE } from '../grants/pkce.ts';
import { singleParameter, undecodableParameters, type RawParameters } from '../http/parameters.ts';
import { consentPage } from '../pages/consent-page.ts';
import { errorPage } from '../pages/error-page.ts';
import { sendStorageUnavailablePage } from '../http/storage-unavailable-response.ts';
import { isStorageUnavailable } from '../storage/storage-unavailable.ts';
import { noSubjectPage } from '../pages/no-subject-page.ts';
import { sendLoginStep } from '../sessions/login-step.ts';
import { parseScope, SCOPE_CATALOGUE } from '@gatehouse/protocol';
import { ENGLISH, translator, type MessageKey, type MessageValues, type Translator } from '../i18n/i18n.ts';
import { matchUiLocales } from '../i18n/locale-resolution.ts';
import { noteChosenLocale, noteUiLocales, rememberChosenLocale, requestLocale, requestTranslator } from '../i18n/request-language.ts';
import type { ServerContext } from '../server-context.ts';
import { currentLoginSession, recognizedSession, sessionCookieDigest, sessionCookieName, type CurrentLoginSession } from '../sessions/login-session.ts';
import { derivedKey } from '../tokens/derived-key.ts';
import { consumeRequestUri, markContinuationReauthenticated, storeAuthorizationRequest } from './request-uri.ts';
import { countAddress, RateLimitExceededError } from '../http/rate-limit.ts';
import type { AuditEvent, AuthorizationCodeRecord, ClientRecord, GrantRecord, InteractionRecord, SubjectRecord, SubjectType, UserRecord } from '../storage/storage.ts';
import { authorizedResources, loadResourceCatalogue, resourceParameters } from '../resources/resource-indicators.ts';
import { constantTimeEqual, parseSubjectUrn, subjectParameterName, formatSubjectUrn } from '@gatehouse/protocol';

/** A request whose client and redirect URI are established, and every other parameter checked. */
export interface AuthorizationRequest {
  client: ClientRecord;
  redirectUri: string;
  state: string;
  scope: string[];
  /** RFC 8707 §2.1: the resources named (each known and allowed); undefined when none was (the default resource). */
  resources: string[] | undefined;
  codeChallenge: string | null;
  subjectType: SubjectType;
  /** From `urn_<ns>_params_oauth_subject`. */
  requestedSubject: { subjectType: SubjectType; subjectId: string } | undefined;
  forceConsent: boolean;
  /** OIDC Core §3.1.2.1 `prompt`: `none` alone, or any of `login` and `consent`; empty when absent. */
  prompt: PromptValue[];
  /** OIDC Core §3.1.2.1 `max_age`: the longest time since the user logged in, in seconds; undefined when absent. */
  maxAgeSeconds: number | undefined;
  /** RFC 9449 §10 `dpop_jkt`: the JWK SHA-256 thumbprint the code will be bound to; undefined when absent. */
  dpopJkt?: string | undefined;
  /** The parameters as received: the login page's `return_to`, and what the interaction stores. */
  parameters: Record<string, string>;
}

/**
 * Shown as a page: redirecting is not safe yet. Carries message keys (issue 13 "Languages"): the page is
 * rendered in the request's language; `title` and `message` are the English wording (for logs and tests).
 */
export class AuthorizationPageError extends Error {
  readonly title: string;
  readonly titleKey: MessageKey;
  readonly messageKey: MessageKey;
  readonly values: MessageValues;
  /** What was refused, shown escaped on the page (issue 13), e.g. the redirect URI that is not registered. */
  readonly detail: { labelKey: MessageKey; value: string } | undefined;
  /**
   * The message in an end user's words, when `messageKey` is in protocol words (client_id, redirect_uri):
   * the page leads with it and keeps `messageKey` in a small line for the app's developer. The error's
   * message (a pushed request's JSON `error_description`) stays the protocol wording.
   */
  readonly userMessageKey: MessageKey | undefined;
  constructor(titleKey: MessageKey, messageKey: MessageKey, values: MessageValues = {}, detail?: { labelKey: MessageKey; value: string }, userMessageKey?: MessageKey) {
    super(ENGLISH.t(messageKey, values));
    this.title = ENGLISH.t(titleKey);
    this.titleKey = titleKey;
    this.messageKey = messageKey;
    this.values = values;
    this.detail = detail;
    this.userMessageKey = userMessageKey;
  }
}

/**
 * A consent form (or its language switch) posted from a page whose request a language switch moved to a newer page
 * (`consentLanguageEndpoint`): the request is still waiting there, so the answer is 409 (RFC 9110 §15.5.10: the user
 * can resolve the conflict and answer again) with the ways onward: that page, or back to the app.
 */
export class ConsentMovedError extends AuthorizationPageError {
  /** The main way onward first; `labelKey` translated with `values` on the page. */
  readonly links: { href: string; labelKey: MessageKey; values: MessageValues }[];
  constructor(clientName: string, links: { href: string; labelKey: MessageKey; values: MessageValues }[]) {
    super('error.consentMovedTitle', 'error.consentMoved', { client: clientName });
    this.links = links;
  }
}

/** Sent to the client's redirect URI. */
export class AuthorizationRedirectError extends Error {
  readonly redirectUri: string;
  readonly code: OAuthErrorCode;
  readonly description: string;
  readonly state: string | undefined;
  constructor(redirectUri: string, code: OAuthErrorCode, description: string, state: string | undefined) {
    super(`${code}: ${description}`);
    this.redirectUri = redirectUri;
    this.code = code;
    this.description = errorDescription(description); // RFC 6749 §4.1.2.1: only %x20-21 / %x23-5B / %x5D-7E
    this.state = state;
  }
}

/** The `prompt` values supported (OIDC Core §3.1.2.1), advertised as `prompt_values_supported`. */
export const PROMPT_VALUES = ['none', 'login', 'consent'] as const;
export type PromptValue = (typeof PROMPT_VALUES)[number];
/** OIDC Core §3.1.2.1 max_age: a non-negative whole number of seconds (at most ten digits here). */
const MAX_AGE = /^(?:0|[1-9][0-9]{0,9})$/;

/** SPEC decision 3: 1–512 visible ASCII characters. */
const STATE = /^[\x21-\x7E]{1,512}$/;
// `ui_locales` (OIDC Core §3.1.2.1) rides along so the login and consent pages, and the interaction record, keep the app's language preference (issue 13).
/** What ui_locales may be to be kept: printable ASCII (BCP 47 tags, spaces), at most 256 characters. */
const UI_LOCALES = /^[\x20-\x7E]{1,256}$/;
const CARRIED_PARAMETERS = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'prompt', 'max_age', 'ui_locales', 'dpop_jkt'];
/** RFC 9449 §10: `dpop_jkt` is a JWK SHA-256 thumbprint (RFC 7638), base64url: 43 characters. */
const DPOP_JKT = /^[A-Za-z0-9_-]{43}$/;

/** The end user's words for the refusals before the redirect URI is established (their protocol words go to the developer line). */
const USER_MESSAGES: Partial<Record<MessageKey, MessageKey>> = {
  'error.repeatedParameter': 'error.userInvalidRequest',
  'error.noClientId': 'error.userUnknownApp',
  'error.unknownClient': 'error.userUnknownApp',
  'error.noRedirectUri': 'error.userNoReturnAddress',
  'error.redirectUriNotRegistered': 'error.userReturnAddressNotRegistered',
  'error.redirectUriNotAllowed': 'error.userReturnAddressNotAllowed',
  'error.redirectUriReservedParameter': 'error.userReturnAddressNotAllowed',
  'error.needsClientIdAndRequestUri': 'error.userInvalidRequest',
};

/**
 * @throws AuthorizationPageError before the redirect URI is established.
 * @param how.stored `raw` is a request kept server-side (interaction, request_uri): its `resource` values are one space-separated value.
 * @throws AuthorizationRedirectError after: `invalid_request`, `unsupported_response_type`, `invalid_scope`,
 *   `invalid_target` (RFC 8707 §2).
 */
export async function validateAuthorizationRequest(context: ServerContext, raw: RawParameters, how: { stored?: boolean } = {}): Promise<AuthorizationRequest> {
  const { storage, options } = context;
  const pageError = (messageKey: MessageKey, values?: MessageValues, detail?: { labelKey: MessageKey; value: string }) =>
    new AuthorizationPageError('error.cannotConnect', messageKey, values, detail, USER_MESSAGES[messageKey]);
  const single = (name: string) => {
    try {
      return singleParameter(raw, name);
    } catch (error) {
      if (error instanceof OAuthError) throw pageError('error.repeatedParameter', { name });
      throw error;
    }
  };

  // 1. The client (SPEC decision 5: an HTML page, never a redirect).
  const clientId = single('client_id');
  if (clientId === undefined) throw pageError('error.noClientId');
  const client = await storage.clients.find(clientId);
  if (!client || client.kind !== 'client' || client.status === 'deleted') throw pageError('error.unknownClient');
  // SPEC decision 13: a pending or suspended client cannot start a flow.
  if (client.status !== 'active') throw pageError(client.status === 'pending' ? 'error.clientPending' : 'error.clientSuspended', { client: client.clientName });

  // 2. The redirect URI: required, and exactly one of the registered strings (SPEC decision 4;
  // RFC 9700 §4.1.3: exact string matching, no normalization, no port wildcard).
  const redirectUri = single('redirect_uri');
  if (redirectUri === undefined) throw pageError('error.noRedirectUri');
  if (!client.redirectUris.includes(redirectUri)) throw pageError('error.redirectUriNotRegistered', {}, { labelKey: 'error.redirectUriLabel', value: redirectUri });
  // SPEC decision 4 / §2: the registration rules hold here too, so a URI registered under other rules (a
  // loopback URI copied into a production database) is refused with a page, never redirected to.
  if (redirectUriProblem(redirectUri, client.clientType, options.environment) !== undefined) {
    // RFC 6749 §3.1: a URI registered before the rule (2026-12-07) that names a response parameter: the developer
    // line says which, not the environment.
    const reserved = URL.canParse(redirectUri) ? reservedResponseParameter(new URL(redirectUri).search) : undefined;
    if (reserved !== undefined) throw pageError('error.redirectUriReservedParameter', { name: reserved }, { labelKey: 'error.redirectUriLabel', value: redirectUri });
    throw pageError('error.redirectUriNotAllowed', { environment: options.environment }, { labelKey: 'error.redirectUriLabel', value: redirectUri });
  }

  // 3. From here on errors go back to the client.
  // RFC 6749 §4.1.2.1: the error carries "the exact value received from the client", a malformed one too (it is
  // percent-encoded in the redirect, and the request line it came in bounds its length); only a repeated
  // state, which has no one value, is left out.
  // A state that is not valid percent-encoded UTF-8 has no value to send back as received (fast-querystring kept its
  // raw text, which the redirect would encode again): left out too, and the request refused below.
  const undecodable = undecodableParameters(raw);
  const echoedState = typeof raw.state === 'string' && !undecodable.includes('state') ? raw.state : undefined;
  const fail = (code: OAuthErrorCode, description: string) => new AuthorizationRedirectError(redirectUri, code, description, echoedState);
  const parameter = (name: string) => {
    try {
      return singleParameter(raw, name);
    } catch (error) {
      if (error instanceof OAuthError) throw fail('invalid_request', error.description);
      throw error;
    }
  };

  if (undecodable.length > 0) {
    const name = undecodable[0]!;
    // RFC 6749 §4.1.2.1: error_description is limited to printable ASCII; a name outside it is not repeated.
    throw fail('invalid_request', /^[A-Za-z0-9_.:-]{1,64}$/.test(name) ? `parameter ${name} is not valid percent-encoded UTF-8` : 'a parameter is not valid percent-encoded UTF-8');
  }
  const state = parameter('state');
  if (state === undefined) throw fail('invalid_request', 'state is required');
  if (!STATE.test(state)) throw fail('invalid_request', 'state must be 1-512 visible ASCII characters');

  const responseType = parameter('response_type');
  if (responseType === undefined) throw fail('invalid_request', 'response_type is required');
  if (responseType !== 'code') throw fail('unsupported_response_type', 'only response_type=code is supported');
  const responseMode = parameter('response_mode');
  if (responseMode !== undefined && responseMode !== 'query') throw fail('invalid_request', 'only response_mode=query is supported');
  for (const unsupported of ['request', 'request_uri']) {
    if (parameter(unsupported) !== undefined) throw fail('invalid_request', `${unsupported} is not supported`);
  }

  // RFC 6749 §3.3: no default scope, so a missing scope is invalid_scope.
  const scopeParameter = parameter('scope');
  if (scopeParameter === undefined) throw fail('invalid_scope', 'scope is required');
  const scope = parseScope(scopeParameter);
  if (!scope) throw fail('invalid_scope', 'scope is malformed (RFC 6749 section 3.3)');
  const unknown = scope.filter((name) => !SCOPE_CATALOGUE.has(name) || !client.scopes.includes(name));
  if (unknown.length > 0) throw fail('invalid_scope', 'scope includes a value not allowed for this client');
  // RFC 8707 §2.1 (issue 15 §4): the resources the tokens will be for, and the scopes within their families.
  let resources: string[] | undefined;
  try {
    resources = authorizedResources(await loadResourceCatalogue(context), client, resourceParameters(raw, { stored: how.stored === true }), scope);
  } catch (error) {
    if (error instanceof OAuthError) throw fail(error.code, error.description);
    throw error;
  }

  // SPEC decision 2: S256 only; required for public clients and, barring an exception, confidential ones.
  const codeChallenge = parameter('code_challenge');
  const codeChallengeMethod = parameter('code_challenge_method');
  if (codeChallengeMethod !== undefined && codeChallengeMethod !== 'S256') {
    throw fail('invalid_request', 'code_challenge_method must be S256 (plain is not allowed)');
  }
  if (codeChallenge !== undefined) {
    // RFC 7636 §4.3: an absent method means plain, which is refused.
    if (codeChallengeMethod === undefined) throw fail('invalid_request', 'code_challenge_method is required and must be S256');
    if (!S256_CODE_CHALLENGE.test(codeChallenge)) throw fail('invalid_request', 'code_challenge must be 43 base64url characters (S256)');
  } else {
    if (codeChallengeMethod !== undefined) throw fail('invalid_request', 'code_challenge is required with code_challenge_method');
    if (client.clientType === 'public' || client.pkceRequired) throw fail('invalid_request', 'code_challenge is required (PKCE with S256)');
  }

  // OIDC Core §3.1.2.1: prompt is a space-delimited list; "none" with any other value is an error.
  const promptParameter = parameter('prompt');
  const prompt = promptParameter === undefined ? [] : [...new Set(promptParameter.split(' '))];
  if (prompt.some((value) => !(PROMPT_VALUES as readonly string[]).includes(value))) throw fail('invalid_request', 'prompt may only be none, login or consent');
  if (prompt.includes('none') && prompt.length > 1) throw fail('invalid_request', 'prompt=none cannot be combined with other values');
  const maxAgeParameter = parameter('max_age');
  if (maxAgeParameter !== undefined && !MAX_AGE.test(maxAgeParameter)) throw fail('invalid_request', 'max_age must be a whole number of seconds');
  // RFC 9449 §10: the thumbprint of the key the client will redeem the code with.
  const dpopJkt = parameter('dpop_jkt');
  if (dpopJkt !== undefined && !DPOP_JKT.test(dpopJkt)) throw fail('invalid_request', 'dpop_jkt must be a base64url JWK SHA-256 thumbprint (RFC 9449 section 10)');

  // SPEC decision 12: subject type preference, none = company.
  const subjectType = client.subjectType ?? 'company';
  const subjectParameter = subjectParameterName(options.brand.urnNamespace);
  const requestedSubjectUrn = parameter(subjectParameter);
  let requestedSubject: AuthorizationRequest['requestedSubject'];
  if (requestedSubjectUrn !== undefined) {
    requestedSubject = parseSubjectUrn(options.brand.urnNamespace, requestedSubjectUrn);
    if (!requestedSubject) throw fail('invalid_request', `${subjectParameter} is not a valid subject URN`);
    if (requestedSubject.subjectType !== subjectType) throw fail('invalid_request', `${subjectParameter} must name a ${subjectType} for this client`);
  }

  const parameters: Record<string, string> = {};
  for (const name of [...CARRIED_PARAMETERS, subjectParameter]) {
    const value = raw[name];
    // OIDC Core §3.1.2.1: ui_locales is a preference; a value no language tag list could be (control characters,
    // over 256 characters) is dropped rather than refused, and never stored (PostgreSQL text holds no NUL).
    if (name === 'ui_locales' && typeof value === 'string' && !UI_LOCALES.test(value)) continue;
    if (typeof value === 'string' && value !== '') parameters[name] = value;
  }
  // Kept server-side space-separated (indicators hold no spaces), read back with `stored`.
  if (resources) parameters.resource = resources.join(' ');
  return { client, redirectUri, state, scope, resources, codeChallenge: codeChallenge ?? null, subjectType, requestedSubject, forceConsent: prompt.includes('consent'),
    prompt: prompt as PromptValue[], maxAgeSeconds: maxAgeParameter === undefined ? undefined : Number(maxAgeParameter), parameters,
    ...(dpopJkt === undefined ? {} : { dpopJkt }) };
}

/** GET /oauth/authorize */
export async function authorizationEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await handleAuthorizationErrors(context, reply, async (established) => {
    const query = request.query as RawParameters;
    // Issue 13: the app's language preference (OIDC Core §3.1.2.1 ui_locales) shows on every page of this request, errors included.
    noteUiLocales(request, typeof query.ui_locales === 'string' ? query.ui_locales : undefined);
    const { authorization, requestedAt, byReference, reauthenticatedSessionDigest } = await authorizationRequestFrom(context, query);
    noteUiLocales(request, authorization.parameters.ui_locales);
    Object.assign(established, { redirectUri: authorization.redirectUri, state: authorization.state });
    // Issue 12: the session and the subjects to choose from in one read; and when the consent page is certain
    // to follow a session with subjects to choose from, the interaction stored by that same operation (one
    // round trip on PostgreSQL for both).
    const { session, interactionId: storedInteractionId } = await sessionForConsent(context, request, authorization);
    if (!session || !loginSatisfies(context, authorization, session, requestedAt, reauthenticatedSessionDigest)) {
      // OIDC Core §3.1.2.1: prompt=none never shows a page.
      if (authorization.prompt.includes('none')) throw redirectError(authorization, 'login_required', 'the user must log in');
      // A request by reference, or one that must see a login newer than itself (prompt=login), crosses the
      // login page as a new request_uri: the pushed one is spent, and the time it began stays server-side.
      // A request by reference spends the pushed request it stores again (already counted at PAR); one that
      // stores a new request without a session is counted as PAR counts its address (SPEC decision 18), and over
      // the limit goes back to the client with RFC 6749 §4.1.2.1's `temporarily_unavailable`, storing nothing.
      if (!byReference && mustReauthenticate(authorization)) {
        try {
          await countAddress(context, 'pushed_authorization_request', request.ip);
        } catch (error) {
          if (!(error instanceof RateLimitExceededError)) throw error;
          throw redirectError(authorization, 'temporarily_unavailable', `too many requests; retry after ${error.retryAfterSeconds} seconds`);
        }
      }
      const returnTo = byReference || mustReauthenticate(authorization)
        ? await continuationUrl(context, authorization, requestedAt)
        : authorizeUrl(authorization.parameters);
      // OIDC Core §3.1.2.1: with prompt=login or max_age a sign-in through the identity provider must prove a
      // fresh authentication there too (login-step.ts `reauthenticate`).
      const reauthenticate = authorization.prompt.includes('login') || authorization.maxAgeSeconds !== undefined;
      sendLoginStep(context, reply, { returnTo, clientName: authorization.client.clientName, ...(reauthenticate ? { reauthenticate } : {}) });
      return;
    }
    const { user } = session;
    // Issue 10 §1: a user who administers nothing of the client's subject type gets a page saying so; the
    // client hears `access_denied` (RFC 6749 §4.1.2.1) only when the user goes back to it from there.
    // One read (the session's) serves both this check and the choice below.
    const administered = session.administeredSubjects ?? [];
    // OIDC Core §3.1.2.1: with prompt=none no page is shown, this one included; the client hears at once what the
    // page's way back would have told it (it showed the page before).
    if (administered.length === 0 && authorization.prompt.includes('none')) {
      throw redirectError(authorization, 'access_denied', `the user administers no ${authorization.subjectType} to connect`);
    }
    if (administered.length === 0) {
      // Its language switch comes back to the request: by reference, as a fresh request_uri of the same stored request
      // (the one this GET opened is spent, RFC 9126 §7.3), as the login page's does (login-step.ts).
      const t = byReference ? translator(requestLocale(request), await continuationUrl(context, authorization, requestedAt, reauthenticatedSessionDigest)) : requestTranslator(request);
      reply.code(403).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(noSubjectPage({
        t, brandName: context.options.brand.name, csrfToken: reply.generateCsrf(), userName: user.name, userEmail: user.email,
        clientName: authorization.client.clientName, subjectType: authorization.subjectType,
        backToAppUrl: redirectTo(context, authorization.redirectUri, {
          error: 'access_denied', error_description: `the user administers no ${authorization.subjectType} to connect`, state: authorization.state,
        }),
      }));
      return;
    }
    const subjects = eligibleAmong(authorization, administered);
    // SPEC decision 11: consent may be skipped only for the same user's active grant covering the scopes.
    if (mayReuseConsent(authorization)) {
      const candidate = authorization.requestedSubject
        ? subjects.find((subject) => subject.subjectId === authorization.requestedSubject!.subjectId)
        : subjects.length === 1 ? subjects[0] : undefined;
      if (candidate) {
        const grant = await context.storage.grants.findActive(authorization.client.clientId, candidate.subjectType, candidate.subjectId);
        // The grant must be this user's own consent: another administrator of the same company (bob, after
        // alice approved) has not approved this app and is asked (issue 11 item 5).
        if (grant && grant.userId === user.userId && authorization.scope.every((scope) => grant.scope.includes(scope))
          && grantCoversResources(context, grant, authorization.resources)) {
          // Issue 10 §1: the membership is checked by the code's own insert, as at the consent decision: one removed
          // since the session was read voided the user's codes already, and must not be followed by a new one.
          if (await issueCodeAndRedirect(context, reply, authorization, user, candidate, 'consent.reused', { onlyForAdministrator: true })) return;
          throw redirectError(authorization, 'access_denied', `the user cannot connect that ${authorization.subjectType}`);
        }
      }
    }
    // OIDC Core §3.1.2.6: prompt=none and consent (or a choice of subject) is needed.
    if (authorization.prompt.includes('none')) {
      const choiceNeeded = !authorization.requestedSubject && subjects.length > 1;
      throw choiceNeeded
        ? redirectError(authorization, 'interaction_required', 'the user must choose what to connect')
        : redirectError(authorization, 'consent_required', 'the user must consent');
    }
    const interactionId = storedInteractionId ?? await startInteraction(context, authorization, session.sessionDigest);
    sendConsentPage(context, reply, requestTranslator(request), authorization, user, subjects, interactionId);
  });
}

/** The subjects the consent page offers, in its order: a subject the client requested is the only choice (any other would be refused at the decision). */
function consentChoices(context: ServerContext, authorization: AuthorizationRequest, subjects: SubjectRecord[]): { urn: string; name: string }[] {
  const ns = context.options.brand.urnNamespace;
  return subjects.filter((subject) => !authorization.requestedSubject || subject.subjectId === authorization.requestedSubject.subjectId)
    .map((subject) => ({ urn: formatSubjectUrn(ns, subject.subjectType, subject.subjectId), name: subject.name }));
}

/**
 * The consent page of `authorization` (stored as the interaction `interactionId`) for `user`, choosing among
 * `subjects`: without `selection`, the first (the requested subject when there is one); with it, the subject URN
 * `selection.picked` when it is one of them, else none (the page asks the user to choose, and with `selection.gone`
 * says the one picked before can no longer be connected).
 */
function sendConsentPage(
  context: ServerContext, reply: FastifyReply, t: Translator, authorization: AuthorizationRequest, user: UserRecord, subjects: SubjectRecord[],
  interactionId: string, selection?: { picked: string | undefined; gone: boolean },
): void {
  const choices = consentChoices(context, authorization, subjects);
  const selected = selection ? choices.find((choice) => choice.urn === selection.picked) : choices[0];
  reply.code(200).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(consentPage({
    t,
    brandName: context.options.brand.name,
    csrfToken: reply.generateCsrf(),
    userName: user.name,
    client: authorization.client,
    redirectHost: new URL(authorization.redirectUri).host || authorization.redirectUri,
    scopes: authorization.scope.map((name) => ({ name, description: t.scope(name) })),
    subjectType: authorization.subjectType,
    subjects: choices.map((choice) => ({ ...choice, selected: choice === selected })),
    ...(selection?.gone && selected === undefined ? { pickGone: true } : {}),
    interactionId,
  }));
}

/**
 * POST /oauth/authorize/language — the consent page's language switch (pages/consent-page.ts CONSENT_LANGUAGE_FORM;
 * CSRF- and Origin-checked before this runs): remembers the `locale` chosen as GET /language does, then answers 303 to
 * GET /oauth/authorize/consent (`consentViewEndpoint`), which shows the consent page of the same request in it, with
 * the `subject` the user had picked still picked (defect 1 of the page review: a link back to the page's address came
 * back with the default). Post/Redirect/Get: the address bar shows a page that a reload shows again, instead of
 * /oauth/authorize/language and the browser's "resend the form?".
 *
 * The request comes from the interaction, never from the form, as at the decision: nothing the request fixed
 * (redirect_uri, scope, code_challenge, state) can be changed here, and a request by reference is not used again
 * (defect 3: the page's address held a request_uri its GET spent, RFC 9126 §7.3). The interaction must be this
 * session's, unexpired and unused; it is consumed and its request moves, unchanged and with the same expiry, to a new
 * interaction whose id the GET derives (`consentViewInteractionId`): from a `view` handle in the address (an HMAC of
 * the old interaction's id, `consentViewHandle`), the session cookie and a server key. The address holds no interaction
 * id (a credential, like the session cookie), and the handle alone, without the session cookie and the key, opens
 * nothing. One request still has one live interaction: the decision consumes it once. The page the switch was made on,
 * submitted later (another tab, the browser's Back), gets 409 with a link to the page its request moved to
 * (`interactionGone`). The company picked travels as `choice`, a reference to it (`consentChoiceReference`).
 */
export async function consentLanguageEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await handleAuthorizationErrors(context, reply, async (established) => {
    const body = request.body as RawParameters;
    const locale = rememberChosenLocale(context, reply, body.locale);
    if (locale !== undefined) noteChosenLocale(request, locale); // this answer, an error page included, in the language chosen
    const sessionDigest = sessionCookieDigest(context, request);
    const interactionId = typeof body.interaction === 'string' ? body.interaction : '';
    const now = context.clock.nowSeconds();
    const peeked = sessionDigest !== undefined && INTERACTION_ID.test(interactionId)
      ? await context.storage.interactions.peek(interactionDigestOf(interactionId), sessionDigest, now) : undefined;
    if (!peeked) throw await interactionGone(context, request, { interactionId, subject: body.subject });
    noteUiLocales(request, peeked.interaction.requestParameters.ui_locales); // for a locale sent that is none offered
    // Validated again, as at the decision: the client may have been suspended, or its redirect URIs or scopes changed.
    const authorization = await validateAuthorizationRequest(context, peeked.interaction.requestParameters, { stored: true });
    Object.assign(established, { redirectUri: authorization.redirectUri, state: authorization.state });
    const session = await currentLoginSession(context, request, authorization.subjectType);
    if (!session || session.user.userId !== peeked.userId) throw new AuthorizationPageError('error.sessionEndedTitle', 'error.sessionEnded');
    // A user left with nothing to connect (or without the subject the client requested) goes back to the client now.
    eligibleAmong(authorization, session.administeredSubjects ?? []);
    // Carried whether or not it is still the user's: the GET decides, and says so when it no longer is.
    const picked = typeof body.subject === 'string' && body.subject !== '' ? body.subject : undefined;
    // The request moves to the interaction the GET will find: taken from the old one first (this session's, unused), so
    // that a decision racing this switch, or a second switch, leaves no second live interaction of the same request.
    const consumed = await context.storage.interactions.consume(peeked.interaction.interactionDigest, sessionDigest!, now);
    if (!consumed) throw await interactionGone(context, request, { interactionId, subject: body.subject });
    // Derived from the id of the interaction moved from (consentViewHandle), so that the page it was on, posted later,
    // finds where its request went (interactionGone) and says so with a way there.
    const view = consentViewHandle(context, interactionId);
    const moved = consentViewInteractionId(context, request, view)!;
    await context.storage.interactions.create({ ...consumed.interaction, interactionDigest: interactionDigestOf(moved) });
    // The pick by a reference to the subject itself (consentChoiceReference), never its URN nor its place in a list
    // that may change before the GET (a membership added or removed would shift another company into that place).
    const query = new URLSearchParams({ view, ...(picked ? { choice: consentChoiceReference(context, view, picked) } : {}) });
    reply.header('cache-control', 'no-store').redirect(`/oauth/authorize/consent?${query}`, 303);
  });
}

/**
 * GET /oauth/authorize/consent?view=<handle>[&choice=<reference>] — the consent page the language switch redirected to
 * (`consentLanguageEndpoint`), in the language the request resolves to (the switch's cookie), shown again on a reload
 * while its interaction is unused. Only reads: the decision consumes the interaction. Another browser or session, an
 * unknown handle, a used or expired interaction: the same pages as the switch's (session ended, request expired). A page
 * whose own switch moved the request on again answers 303 to the page the request is on now (`movedConsent`).
 * `choice` (`consentChoiceReference`) preselects the subject it names when the user still may connect it; without it,
 * or when that subject is no longer among the user's (a membership removed meanwhile), nothing is preselected: the
 * user chooses again, told why in the second case.
 */
export async function consentViewEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await handleAuthorizationErrors(context, reply, async (established) => {
    const query = request.query as RawParameters;
    const sessionDigest = sessionCookieDigest(context, request);
    const interactionId = typeof query.view === 'string' && INTERACTION_ID.test(query.view) ? consentViewInteractionId(context, request, query.view) : undefined;
    const peeked = interactionId !== undefined && sessionDigest !== undefined
      ? await context.storage.interactions.peek(interactionDigestOf(interactionId), sessionDigest, context.clock.nowSeconds()) : undefined;
    if (!peeked || interactionId === undefined) {
      // This page's own language switch moved the request on, and the page is opened again (the browser's Back, another
      // tab): to the page the request is on now, with nothing preselected (the pick travelled with the newer page's address).
      const moved = interactionId !== undefined ? await movedConsent(context, request, interactionId) : undefined;
      if (moved) {
        reply.header('cache-control', 'no-store').redirect(`/oauth/authorize/consent?${new URLSearchParams({ view: moved.view })}`, 303);
        return;
      }
      throw await interactionGone(context, request);
    }
    noteUiLocales(request, peeked.interaction.requestParameters.ui_locales);
    const authorization = await validateAuthorizationRequest(context, peeked.interaction.requestParameters, { stored: true });
    Object.assign(established, { redirectUri: authorization.redirectUri, state: authorization.state });
    const session = await currentLoginSession(context, request, authorization.subjectType);
    if (!session || session.user.userId !== peeked.userId) throw new AuthorizationPageError('error.sessionEndedTitle', 'error.sessionEnded');
    const subjects = eligibleAmong(authorization, session.administeredSubjects ?? []);
    const reference = typeof query.choice === 'string' ? query.choice : undefined;
    const picked = reference === undefined ? undefined : consentChoices(context, authorization, subjects)
      .find((choice) => constantTimeEqual(reference, consentChoiceReference(context, query.view as string, choice.urn)))?.urn;
    sendConsentPage(context, reply, requestTranslator(request), authorization, session.user, subjects, interactionId, { picked, gone: reference !== undefined && picked === undefined });
  });
}

/**
 * The page for an interaction that cannot be used: the session ended; or the request moved, by a language switch, to a
 * newer page still waiting (`ConsentMovedError`, when `from` names the interaction posted and `movedConsent` finds
 * where it went); or the request expired or was used.
 * @param from.subject the subject URN the stale form posted: still picked on the newer page if the user may connect it.
 */
async function interactionGone(
  context: ServerContext, request: FastifyRequest, from?: { interactionId: string; subject: unknown },
): Promise<AuthorizationPageError> {
  if (!(await currentLoginSession(context, request))) return new AuthorizationPageError('error.sessionEndedTitle', 'error.sessionEnded');
  const moved = from && INTERACTION_ID.test(from.interactionId) ? await movedConsent(context, request, from.interactionId) : undefined;
  // The request is validated again, as wherever a stored one is used: a client suspended meanwhile gets no link back.
  const authorization = moved && await validateAuthorizationRequest(context, moved.interaction.requestParameters, { stored: true }).catch(() => undefined);
  if (moved && authorization) {
    const subject = typeof from?.subject === 'string' ? from.subject : undefined;
    const query = new URLSearchParams({ view: moved.view, ...(subject ? { choice: consentChoiceReference(context, moved.view, subject) } : {}) });
    return new ConsentMovedError(authorization.client.clientName, [
      { href: `/oauth/authorize/consent?${query}`, labelKey: 'error.consentMovedContinue', values: {} },
      // RFC 6749 §4.1.2.1: going back without an answer is a denial to the app, as the no-subject page's way back.
      {
        href: redirectTo(context, authorization.redirectUri, { error: 'access_denied', error_description: 'the user went back without answering', state: authorization.state }),
        labelKey: 'error.consentMovedBack', values: { client: authorization.client.clientName },
      },
    ]);
  }
  return new AuthorizationPageError('error.requestExpiredTitle', 'error.interactionExpired');
}

/** How many language switches in a row `movedConsent` follows from a page (each one read). */
const LANGUAGE_SWITCHES_FOLLOWED = 5;

/**
 * Where a language switch moved the request of the interaction `interactionId` (consumed): the interaction the switch
 * stored (`consentViewInteractionId` of `consentViewHandle`), and further along when that page's switch moved it again;
 * the first still unused and this session's, with its `view` handle. Undefined when there is none: the request was
 * answered, expired, or was never moved (an interaction nobody moved leads to an id no interaction has).
 */
async function movedConsent(
  context: ServerContext, request: FastifyRequest, interactionId: string,
): Promise<{ view: string; interaction: InteractionRecord } | undefined> {
  const sessionDigest = sessionCookieDigest(context, request);
  if (sessionDigest === undefined) return undefined;
  const now = context.clock.nowSeconds();
  let from = interactionId;
  for (let hop = 0; hop < LANGUAGE_SWITCHES_FOLLOWED; hop++) {
    const view = consentViewHandle(context, from);
    const next = consentViewInteractionId(context, request, view);
    if (next === undefined) return undefined;
    const found = await context.storage.interactions.peek(interactionDigestOf(next), sessionDigest, now);
    if (found) return { view, interaction: found.interaction };
    from = next;
  }
  return undefined;
}

/**
 * The id of the interaction a consent page's `view` handle names: an HMAC, under a key derived from the token HMAC key,
 * of the handle and this request's session cookie (undefined without a well-formed one). Only the browser holding that
 * session, at this server, can turn the handle into the id; only the id's digest is stored, as for every interaction.
 */
function consentViewInteractionId(context: ServerContext, request: FastifyRequest, view: string): string | undefined {
  const cookie = request.cookies[sessionCookieName(context)];
  if (cookie === undefined || sessionCookieDigest(context, request) === undefined) return undefined;
  return createHmac('sha256', consentViewKey(context)).update(`${cookie}\n${view}`).digest('base64url');
}

/** The key of the consent view's derivations: derived from the token HMAC key, for this purpose alone. */
const consentViewKey = (context: ServerContext) => derivedKey(context.options.tokenHmacKey, 'gatehouse consent view');

/**
 * The `view` handle of the page a language switch moves the interaction `interactionId` to: an HMAC of that id under
 * the consent view key (43 base64url characters, as unguessable as a random handle, and revealing nothing of the id),
 * so that the page the switch was made on, posted later, can find the page its request moved to (`movedConsent`).
 * The input's first line ("handle", 6 characters) is never a session cookie (43): no collision with the interaction ids.
 */
function consentViewHandle(context: ServerContext, interactionId: string): string {
  return createHmac('sha256', consentViewKey(context)).update(`handle\n${interactionId}`).digest('base64url');
}

/**
 * The consent page's `choice`: a reference to the subject `subjectUrn` picked, for the page with the handle `view`: an
 * HMAC under the consent view key, 22 base64url characters (128 bits). The address holds neither the URN nor a place in
 * a list; a reference of one page means nothing on another; and it names the same subject whatever the user's
 * subjects have become meanwhile (the GET compares it with each subject's, in constant time).
 */
function consentChoiceReference(context: ServerContext, view: string, subjectUrn: string): string {
  return createHmac('sha256', consentViewKey(context)).update(`choice\n${view}\n${subjectUrn}`).digest('base64url').slice(0, 22);
}

/**
 * The request at GET /oauth/authorize: by reference (RFC 9126 §4: `client_id` and `request_uri`, every
 * other parameter ignored; the stored request used once) or by value.
 * @returns the validated request, when it began (seconds since the epoch; for `prompt=login`), and
 *   whether it came by reference.
 * @throws AuthorizationPageError for an unknown, expired, used or another client's request_uri (its
 *   redirect URI is not established: no redirect); AuthorizationRedirectError `invalid_request` for a
 *   request by value where the deployment or the client requires pushed requests (RFC 9126 §5, §6).
 */
async function authorizationRequestFrom(
  context: ServerContext, query: RawParameters,
): Promise<{ authorization: AuthorizationRequest; requestedAt: number; byReference: boolean; reauthenticatedSessionDigest?: string }> {
  // RFC 6749 §3.1: an empty request_uri is an omitted one (the request is by value); it was an expired pushed request.
  if (query.request_uri !== undefined && query.request_uri !== '') {
    const requestUri = query.request_uri;
    const clientId = query.client_id;
    // RFC 9126 §4: client_id is required with request_uri, and the request must be that client's.
    if (typeof requestUri !== 'string' || typeof clientId !== 'string') {
      throw new AuthorizationPageError('error.cannotConnect', 'error.needsClientIdAndRequestUri', {}, undefined, USER_MESSAGES['error.needsClientIdAndRequestUri']);
    }
    const pushed = await consumeRequestUri(context, requestUri, clientId);
    if (!pushed) {
      throw new AuthorizationPageError('error.requestExpiredTitle', 'error.pushedRequestExpired');
    }
    // Validated again: the client may have been suspended, or its redirect URIs or scopes changed, meanwhile.
    return {
      authorization: await validateAuthorizationRequest(context, pushed.requestParameters, { stored: true }), requestedAt: pushed.createdAt, byReference: true,
      ...(pushed.reauthenticatedSessionDigest === undefined ? {} : { reauthenticatedSessionDigest: pushed.reauthenticatedSessionDigest }),
    };
  }
  const authorization = await validateAuthorizationRequest(context, query);
  // RFC 9126 §5 (require_pushed_authorization_requests, server metadata) and §6 (client metadata): only
  // requests by reference are accepted.
  if (context.options.requirePushedAuthorizationRequests || authorization.client.requirePushedAuthorizationRequests) {
    throw redirectError(authorization, 'invalid_request', 'pushed authorization requests are required (RFC 9126): use the pushed_authorization_request_endpoint');
  }
  return { authorization, requestedAt: context.clock.nowSeconds(), byReference: false };
}

/**
 * Whether the session's authentication is recent enough (its `authenticatedAt`: the sign-in for a password,
 * the identity provider's `auth_time` for a sign-in there): with `prompt=login` (OIDC Core §3.1.2.1:
 * "reauthenticate") newer than the request (whole seconds: one from the second the request began does not
 * count) or the session a login on this request's login page started (request-uri.ts
 * `markContinuationReauthenticated`), and no older than `max_age` seconds.
 */
function loginSatisfies(
  context: ServerContext, authorization: AuthorizationRequest, session: CurrentLoginSession, requestedAt: number, reauthenticatedSessionDigest: string | undefined,
): boolean {
  if (mustReauthenticate(authorization) && session.authenticatedAt <= requestedAt && session.sessionDigest !== reauthenticatedSessionDigest) return false;
  // OIDC Core §3.1.2.1 max_age: "If the elapsed time is greater than this value, the OP MUST attempt to actively re-authenticate".
  // max_age=0 is prompt=login's check above: an age in whole seconds would let a login of the same second through.
  if (authorization.maxAgeSeconds !== undefined && authorization.maxAgeSeconds > 0 && context.clock.nowSeconds() - session.authenticatedAt > authorization.maxAgeSeconds) return false;
  return true;
}

/** OIDC Core §3.1.2.1: `prompt=login`, or `max_age=0` ("equivalent to prompt=login"): only a login newer than the request will do. */
function mustReauthenticate(authorization: AuthorizationRequest): boolean {
  return authorization.prompt.includes('login') || authorization.maxAgeSeconds === 0;
}

/**
 * The login page's return_to for a request kept server-side: a fresh request_uri living as long as an interaction,
 * with the language its `ui_locales` resolves to beside it (ignored by this endpoint, which reads the stored one): the login's own
 * pages (a refused password, the second step) speak the language the request asked for (issue 13).
 */
async function continuationUrl(
  context: ServerContext, authorization: AuthorizationRequest, requestedAt: number, reauthenticatedSessionDigest?: string,
): Promise<string> {
  const now = context.clock.nowSeconds();
  const clientId = authorization.client.clientId;
  const requestUri = await storeAuthorizationRequest(context, clientId, authorization.parameters, requestedAt, now + context.options.interactionLifetimeSeconds);
  // Only the language the request resolves to (a short tag), so the return_to stays short whatever was sent.
  const language = matchUiLocales(authorization.parameters.ui_locales);
  const url = authorizeUrl({ client_id: clientId, request_uri: requestUri, ...(language === undefined ? {} : { ui_locales: language }) });
  // A continuation of a continuation (a page's language switch) keeps the login its prompt=login already saw.
  if (reauthenticatedSessionDigest !== undefined) await markContinuationReauthenticated(context, url, reauthenticatedSessionDigest);
  return url;
}

function redirectError(authorization: AuthorizationRequest, code: OAuthErrorCode, description: string): AuthorizationRedirectError {
  return new AuthorizationRedirectError(authorization.redirectUri, code, description, authorization.state);
}

/**
 * SPEC decision 11, RFC 8252 §8.6, OAuth 2.1 §7.3.1: consent is reused only where the client's identity
 * is assured — a confidential client redirecting to an https (or loopback http) URI — and never with
 * `prompt=consent`. A public client, or a private-use-scheme redirect, is always asked again.
 */
function mayReuseConsent(authorization: AuthorizationRequest): boolean {
  if (authorization.forceConsent) return false;
  if (authorization.client.clientType !== 'confidential') return false;
  return /^https?:\/\//i.test(authorization.redirectUri);
}

/** 256 bits: the interaction id is bound to the session, but is treated like a credential all the same. */
const INTERACTION_ID = /^[A-Za-z0-9_-]{43}$/;
const interactionDigestOf = (interactionId: string) => hash('sha256', interactionId, 'base64url');

/** The validated request as an interaction bound to the login session, under a new id (only its digest is stored). */
function newInteraction(context: ServerContext, authorization: AuthorizationRequest, sessionDigest: string): { interactionId: string; record: InteractionRecord } {
  const interactionId = randomBytes(32).toString('base64url');
  const now = context.clock.nowSeconds();
  return {
    interactionId,
    record: {
      interactionDigest: interactionDigestOf(interactionId), sessionDigest, clientId: authorization.client.clientId,
      requestParameters: authorization.parameters, createdAt: now, expiresAt: now + context.options.interactionLifetimeSeconds,
    },
  };
}

/** Stores the validated request as an interaction bound to the login session; returns its id. */
async function startInteraction(context: ServerContext, authorization: AuthorizationRequest, sessionDigest: string): Promise<string> {
  const { interactionId, record } = newInteraction(context, authorization, sessionDigest);
  await context.storage.interactions.create(record);
  return interactionId;
}

/**
 * The login session with the subjects of the client's type its user administers; with the id of the
 * interaction already stored for the consent page when it is certain to be shown (issue 12): no earlier
 * consent can be reused (`mayReuseConsent`), no prompt=none, and no prompt=login or max_age that the
 * session's login could fail. It is stored then only if the user has a subject to choose; should the page
 * still not be shown (the client requested a subject the user does not administer), the stored interaction
 * is never sent anywhere and expires unused.
 */
async function sessionForConsent(
  context: ServerContext, request: FastifyRequest, authorization: AuthorizationRequest,
): Promise<{ session: CurrentLoginSession | undefined; interactionId?: string }> {
  const sessionDigest = sessionCookieDigest(context, request);
  const pageCertain = !mayReuseConsent(authorization) && authorization.maxAgeSeconds === undefined
    && !authorization.prompt.includes('none') && !authorization.prompt.includes('login');
  if (sessionDigest === undefined || !pageCertain) return { session: await currentLoginSession(context, request, authorization.subjectType) };
  const { interactionId, record } = newInteraction(context, authorization, sessionDigest);
  const found = await context.storage.interactions.createInSession(record, context.clock.nowSeconds(), authorization.subjectType);
  if (!found) return { session: undefined };
  const session = await recognizedSession(context, request, found);
  return found.interactionStored ? { session, interactionId } : { session };
}

/** POST /oauth/authorize/decision (the consent form; CSRF- and Origin-checked before this runs). */
export async function authorizationDecisionEndpoint(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  await handleAuthorizationErrors(context, reply, async (established) => {
    const body = request.body as RawParameters;
    // SPEC decision 11: the request comes from the interaction, never from the form; consuming it is one
    // atomic step that checks it is this session's, unexpired and unused, so a second post gets no code,
    // and that the session is active, which it returns (issue 12: one round trip on PostgreSQL).
    const sessionDigest = sessionCookieDigest(context, request);
    const interactionId = typeof body.interaction === 'string' ? body.interaction : '';
    const now = context.clock.nowSeconds();
    const interactionDigest = sessionDigest !== undefined && INTERACTION_ID.test(interactionId) ? interactionDigestOf(interactionId) : undefined;
    const chosen = typeof body.subject === 'string' ? parseSubjectUrn(context.options.brand.urnNamespace, body.subject) : undefined;
    /** The subject an allowed request gets a code for: of its type, and the one it requested if it did. */
    const codeSubject = (authorization: AuthorizationRequest) => chosen && body.decision === 'allow' && chosen.subjectType === authorization.subjectType
      && (!authorization.requestedSubject || authorization.requestedSubject.subjectId === chosen.subjectId) ? chosen : undefined;
    // Issue 12: the request is read first (from memory on PostgreSQL when this instance showed the page), so
    // that an allowed decision's code is stored by the operation that consumes the interaction: one round
    // trip. A request that no longer validates, or no code to store, takes the steps below one by one.
    const peeked = interactionDigest !== undefined && sessionDigest !== undefined && body.decision === 'allow'
      ? await context.storage.interactions.peek(interactionDigest, sessionDigest, now) : undefined;
    const prepared = peeked && await validateAuthorizationRequest(context, peeked.interaction.requestParameters, { stored: true }).then((authorization) => {
      const subject = codeSubject(authorization);
      return { authorization, code: subject && newCode(context, authorization, peeked.userId, subject, 'consent.granted') };
    }, () => undefined);
    // A failure of the operation that would store the code goes back to the client (SPEC decision 5): the
    // request validated, its redirect URI is established.
    if (prepared?.code) Object.assign(established, { redirectUri: prepared.authorization.redirectUri, state: prepared.authorization.state });
    const consumed = interactionDigest === undefined || sessionDigest === undefined ? undefined
      : prepared?.code ? await context.storage.interactions.consumeWithCode(interactionDigest, sessionDigest, now, prepared.code.record, prepared.code.auditEvent)
      : await context.storage.interactions.consume(interactionDigest, sessionDigest, now);
    // Only a refusal reads the session, to say which has ended: the session, or the request (answered, expired, or moved
    // by a language switch to a newer page, which the page then leads to).
    if (!consumed) throw await interactionGone(context, request, { interactionId, subject: body.subject });
    const { interaction } = consumed;
    const { user } = await recognizedSession(context, request, consumed.session);
    noteUiLocales(request, interaction.requestParameters.ui_locales); // issue 13: kept on the interaction record
    if (prepared?.code && 'codeCreated' in consumed && consumed.codeCreated) {
      reply.redirect(redirectTo(context, prepared.authorization.redirectUri, { code: prepared.code.value, state: prepared.authorization.state }), 303);
      return;
    }
    // Validated again: the client may have been suspended, or its redirect URIs or scopes changed, meanwhile.
    const authorization = await validateAuthorizationRequest(context, interaction.requestParameters, { stored: true });
    Object.assign(established, { redirectUri: authorization.redirectUri, state: authorization.state });
    const fail = (code: OAuthErrorCode, description: string) =>
      new AuthorizationRedirectError(authorization.redirectUri, code, description, authorization.state);
    const decision = body.decision;
    if (decision === 'deny') {
      await context.storage.audit.record({ type: 'consent.denied', at: now, actor: `user:${user.userId}`, clientId: authorization.client.clientId });
      // RFC 6749 §4.1.2.1: the resource owner denied the request.
      throw fail('access_denied', 'the user denied the request');
    }
    if (decision !== 'allow') throw fail('invalid_request', 'decision must be allow or deny');
    const requested = authorization.requestedSubject;
    // Issue 12: the user must administer the chosen subject (issue 10 §1), checked by the code's own insert
    // (one round trip fewer on PostgreSQL, and no moment between the check and the code). Only a refusal
    // reads the user's subjects, to say why. A code already refused with the consume (for this user) is not
    // tried again.
    const toConnect = prepared?.code?.record.userId === user.userId ? undefined : codeSubject(authorization);
    if (toConnect && await issueCodeAndRedirect(context, reply, authorization, user, toConnect, 'consent.granted', { onlyForAdministrator: true })) return;
    const subjects = await eligibleSubjects(context, authorization, user);
    const subject = chosen && subjects.find((candidate) => candidate.subjectType === chosen.subjectType && candidate.subjectId === chosen.subjectId);
    if (!subject) throw fail('access_denied', `the user cannot connect that ${authorization.subjectType}`);
    // The client asked for this subject (urn_<ns>_params_oauth_subject): a code for another would attach
    // its data to the wrong company.
    if (requested && (requested.subjectType !== subject.subjectType || requested.subjectId !== subject.subjectId)) {
      throw fail('access_denied', `the user chose a ${authorization.subjectType} other than the one the app requested`);
    }
    // Administered now, not when the code was refused a moment ago (a membership changing meanwhile).
    throw fail('access_denied', `the user cannot connect that ${authorization.subjectType}`);
  });
}

/**
 * The subjects of the client's preferred type the user administers.
 * @throws AuthorizationRedirectError `access_denied` when there are none, or when the requested subject is not among them.
 */
async function eligibleSubjects(context: ServerContext, authorization: AuthorizationRequest, user: UserRecord): Promise<SubjectRecord[]> {
  return eligibleAmong(authorization, await context.storage.subjects.listAdministeredBy(user.userId, authorization.subjectType));
}

/** `eligibleSubjects` over the subjects of the client's preferred type the user administers, already read. */
function eligibleAmong(authorization: AuthorizationRequest, subjects: SubjectRecord[]): SubjectRecord[] {
  const fail = (description: string) => new AuthorizationRedirectError(authorization.redirectUri, 'access_denied', description, authorization.state);
  if (subjects.length === 0) throw fail(`the user administers no ${authorization.subjectType} to connect`);
  const requested = authorization.requestedSubject;
  if (requested && !subjects.some((subject) => subject.subjectId === requested.subjectId)) {
    throw fail(`the requested ${authorization.subjectType} is not one the user administers`);
  }
  return subjects;
}

/**
 * SPEC decision 6: a code bound to client, redirect URI, challenge, scopes, subject and user, then the
 * redirect with it. With `onlyForAdministrator`, only if the user administers the subject as the code is
 * stored (`authorizationCodes.create`).
 * @returns false when `onlyForAdministrator` refused the code: nothing was stored nor sent.
 */
async function issueCodeAndRedirect(
  context: ServerContext, reply: FastifyReply, authorization: AuthorizationRequest, user: UserRecord,
  subject: Pick<SubjectRecord, 'subjectType' | 'subjectId'>, auditType: string, options?: { onlyForAdministrator: boolean },
): Promise<boolean> {
  const code = newCode(context, authorization, user.userId, subject, auditType);
  if (!(await context.storage.authorizationCodes.create(code.record, code.auditEvent, options))) return false;
  reply.redirect(redirectTo(context, authorization.redirectUri, { code: code.value, state: authorization.state }), 303);
  return true;
}

/**
 * SPEC decision 6: a new code for the request, the user and the subject, with the consent's audit event
 * (`auditType`), which commits with the code (issue 12: one commit, one round trip on PostgreSQL). Nothing
 * is stored here. `value` goes only into the redirect; the record holds its digest (SPEC decision 9).
 */
function newCode(
  context: ServerContext, authorization: AuthorizationRequest, userId: string, subject: Pick<SubjectRecord, 'subjectType' | 'subjectId'>, auditType: string,
): { value: string; record: AuthorizationCodeRecord; auditEvent: AuditEvent } {
  const now = context.clock.nowSeconds();
  const code = context.codec.mint('gac');
  return {
    value: code.value,
    record: {
      codeDigest: code.digest, clientId: authorization.client.clientId, userId, redirectUri: authorization.redirectUri,
      scope: authorization.scope, subjectType: subject.subjectType, subjectId: subject.subjectId,
      codeChallenge: authorization.codeChallenge, issuedAt: now, expiresAt: now + context.options.authorizationCodeLifetimeSeconds,
      ...(authorization.resources ? { resources: authorization.resources } : {}),
      ...(authorization.dpopJkt === undefined ? {} : { dpopJkt: authorization.dpopJkt }),
    },
    auditEvent: {
      type: auditType, at: now, actor: `user:${userId}`, clientId: authorization.client.clientId,
      details: {
        subject: formatSubjectUrn(context.options.brand.urnNamespace, subject.subjectType, subject.subjectId), scope: authorization.scope.join(' '),
        ...(authorization.resources ? { resources: authorization.resources.join(' ') } : {}),
      },
    },
  };
}

/**
 * Builds the redirect: the registered URI byte for byte, its own query kept as registered (RFC 6749
 * §3.1.2: "MUST retain that component when adding additional query parameters"; never re-encoded through
 * URLSearchParams, which turns `?flag&x=a%20b` into `?flag=&x=a+b`), then the parameters and `iss`
 * (RFC 9207 §2), each percent-encoded.
 */
function redirectTo(context: ServerContext, redirectUri: string, parameters: Record<string, string | undefined>): string {
  const added = Object.entries({ ...parameters, iss: context.options.issuer })
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join('&');
  // Registered URIs have no fragment (SPEC decision 4); should one appear, the query goes before it.
  const hash = redirectUri.indexOf('#');
  const base = hash === -1 ? redirectUri : redirectUri.slice(0, hash);
  const fragment = hash === -1 ? '' : redirectUri.slice(hash);
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${separator}${added}${fragment}`;
}

function authorizeUrl(parameters: Record<string, string>): string {
  const query = new URLSearchParams(parameters);
  // RFC 8707 §2.1: several resources travel as a repeated parameter, as the client sent them.
  if (parameters.resource !== undefined) {
    query.delete('resource');
    for (const resource of parameters.resource.split(' ')) query.append('resource', resource);
  }
  return `/oauth/authorize?${query}`;
}

/** SPEC decision 11 with RFC 8707: a reused consent must also have granted every resource requested now. */
function grantCoversResources(context: ServerContext, grant: GrantRecord, requested: string[] | undefined): boolean {
  const granted = grant.resources ?? [context.options.accessTokenAudience];
  return (requested ?? [context.options.accessTokenAudience]).every((resource) => granted.includes(resource));
}

/**
 * Renders what GET /oauth/authorize and the consent decision throw (SPEC decision 5, RFC 6749 §4.1.2.1):
 * - AuthorizationPageError: a 400 page; AuthorizationRedirectError: a redirect with `error`, `state`, `iss`;
 * - anything else, once the request's client and redirect URI are established: a redirect with
 *   `error=temporarily_unavailable` (the storage is unreachable, SPEC decision 18) or `error=server_error`,
 *   `state` and `iss` (RFC 9207), never a JSON body; before that (or when it cannot be told now), a page:
 *   503 with `Retry-After` for an unreachable storage, 500 otherwise. Never a redirect to an unchecked URI.
 */
/** Where errors may go once the request's client and redirect URI are established (SPEC decision 5). */
interface EstablishedRedirect {
  redirectUri?: string;
  state?: string;
}

/**
 * Runs `work`, rendering what it throws: an AuthorizationPageError as a page, an AuthorizationRedirectError
 * as a redirect, and anything else (a server error, an unreachable storage) as a redirect with
 * `server_error` / `temporarily_unavailable` once `work` has recorded a validated request in `established`,
 * else as a page.
 */
async function handleAuthorizationErrors(
  context: ServerContext, reply: FastifyReply, work: (established: EstablishedRedirect) => Promise<void>,
): Promise<void> {
  const established: EstablishedRedirect = {};
  try {
    await work(established);
  } catch (error) {
    const t = requestTranslator(reply.request);
    if (error instanceof AuthorizationPageError) {
      const message = t.t(error.userMessageKey ?? error.messageKey, error.values);
      const moved = error instanceof ConsentMovedError ? error : undefined;
      reply.code(moved ? 409 : 400).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(errorPage(context.options.brand.name, t.t(error.titleKey), message, {
        t, reference: reply.request.id, ...(error.detail ? { detail: { label: t.t(error.detail.labelKey), value: error.detail.value } } : {}),
        ...(error.userMessageKey ? { developer: t.t(error.messageKey, error.values) } : {}),
        ...(moved ? { links: moved.links.map((link) => ({ href: link.href, label: t.t(link.labelKey, link.values) })) } : {}),
      }));
      return;
    }
    if (error instanceof AuthorizationRedirectError) {
      reply.redirect(redirectTo(context, error.redirectUri, { error: error.code, error_description: error.description, state: error.state }), 303);
      return;
    }
    const unavailable = isStorageUnavailable(error);
    const { request } = reply;
    if (unavailable) request.log.warn({ err: error }, 'storage unavailable at the authorization endpoint');
    else request.log.error({ err: error }, 'unexpected error at the authorization endpoint');

    if (established.redirectUri !== undefined) {
      // RFC 6749 §4.1.2.1: server_error / temporarily_unavailable go back to the client like any other error.
      const code: OAuthErrorCode = unavailable ? 'temporarily_unavailable' : 'server_error';
      const description = unavailable ? 'the service is temporarily unavailable, retry later' : 'unexpected error';
      reply.header('cache-control', 'no-store')
        .redirect(redirectTo(context, established.redirectUri, { error: code, error_description: description, state: established.state }), 303);
      return;
    }
    if (unavailable) {
      sendStorageUnavailablePage(reply, context.options.brand.name);
      return;
    }
    reply.code(500).header('cache-control', 'no-store').type('text/html; charset=utf-8')
      .send(errorPage(context.options.brand.name, t.t('error.somethingWrongTitle'), t.t('error.somethingWrong'), { t, reference: request.id }));
  }
}
