/**
 * The language of a request's pages (issue 13 "Languages"): what the request says (the switch's cookie,
 * `Accept-Language`), plus what endpoints learn while handling it — the signed-in user's directory
 * `locale` (noted by sessions/login-session.ts when it reads the session) and the authorization request's
 * `ui_locales` (noted by endpoints/authorization.ts from the request or its interaction record). The order
 * is locale-resolution.ts's `resolveLocale`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { resolveLocale, type Locale, type LocaleSources } from './locale-resolution.ts';
import { LOCALES, translator, type Translator } from './i18n.ts';
import { formPage } from '../http/form-page.ts';
import { hostCookieName, hostCookieOptions } from '../http/host-cookies.ts';
import type { ServerContext } from '../server-context.ts';

/** The language switch's cookie (SameSite=Lax; `__Host-` outside development, http/host-cookies.ts). */
export const LOCALE_COOKIE = 'gatehouse_locale';
/** How long the language switch's choice is remembered. */
export const LOCALE_COOKIE_LIFETIME_SECONDS = 365 * 24 * 60 * 60;

/**
 * The language a switch asked for (`locale`, one of those offered), remembered in the switch's cookie; undefined,
 * and nothing remembered, for anything else. GET /language (endpoints/language.ts) and the consent page's switch
 * (endpoints/authorization.ts) use it.
 */
export function rememberChosenLocale(context: ServerContext, reply: FastifyReply, value: unknown): Locale | undefined {
  const locale = typeof value === 'string' && (LOCALES as readonly string[]).includes(value) ? (value as Locale) : undefined;
  if (locale) {
    reply.setCookie(hostCookieName(context.options.environment, LOCALE_COOKIE), locale,
      hostCookieOptions(context.options.environment, 'lax', LOCALE_COOKIE_LIFETIME_SECONDS));
  }
  return locale;
}

const noted = new WeakMap<FastifyRequest, Pick<LocaleSources, 'chosen' | 'userLocale' | 'uiLocales'>>();

/**
 * Records the language a switch chose with this request (the consent page's, a POST): the cookie set in the answer is
 * not among the request's, and every page of the answer, an error page included, speaks the language chosen.
 */
export function noteChosenLocale(request: FastifyRequest, chosen: Locale): void {
  noted.set(request, { ...noted.get(request), chosen });
}

/** Records the signed-in user's directory `locale` (null: none set). */
export function noteUserLocale(request: FastifyRequest, userLocale: string | null): void {
  noted.set(request, { ...noted.get(request), userLocale });
}

/** Records the authorization request's `ui_locales` (OIDC Core §3.1.2.1). */
export function noteUiLocales(request: FastifyRequest, uiLocales: string | undefined): void {
  if (uiLocales !== undefined) noted.set(request, { ...noted.get(request), uiLocales });
}

/**
 * Records the `ui_locales` of the authorization request a login continues (`returnTo`, the login's
 * `return_to` or a pending second step's: `/oauth/authorize?…`), so every page of that login speaks it.
 */
export function noteContinuedRequestUiLocales(request: FastifyRequest, returnTo: string): void {
  if (returnTo.startsWith('/oauth/authorize?')) noteUiLocales(request, new URLSearchParams(returnTo.slice('/oauth/authorize?'.length)).get('ui_locales') ?? undefined);
}

/** The language of this request's pages. */
export function requestLocale(request: FastifyRequest): Locale {
  const cookies = (request.cookies ?? {}) as Record<string, string | undefined>;
  const header = request.headers['accept-language'];
  return resolveLocale({
    chosen: cookies[`__Host-${LOCALE_COOKIE}`] ?? cookies[LOCALE_COOKIE],
    acceptLanguage: Array.isArray(header) ? header.join(',') : header,
    ...noted.get(request),
  });
}

/**
 * The signed-in areas, and the sign-in's second step (its pending login is a cookie), whose pages a GET opens
 * without a query (the pages of the authorization flow need theirs).
 */
const PAGE_AREAS = /^\/(?:portal|account|admin|marketplace|login\/second-factor)(?:\/|$)/;

/**
 * The translator for this request's pages. Its `path`, where the language switch comes back to, is this
 * page's own URL for a GET. After a POST (a form answered with a page: a field error, a confirmation), the page
 * of the portal, account, console, marketplace or the sign-in's second step the form was sent from
 * (http/form-page.ts: its Referer's path, without the query, when a GET opens it), else the home page (an authorization page opened without its query
 * would be an error page). The form's input is not carried over.
 */
export function requestTranslator(request: FastifyRequest): Translator {
  const formSentFrom = request.method === 'GET' || request.method === 'HEAD' ? undefined : formPage(request, undefined, '/');
  const path = formSentFrom === undefined ? request.url : PAGE_AREAS.test(formSentFrom) ? formSentFrom : '/';
  return translator(requestLocale(request), path);
}
