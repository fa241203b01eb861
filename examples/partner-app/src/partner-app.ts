/**
 * The example partner app: a small server-rendered web app that is a confidential OAuth client and a
 * backend-for-frontend. "Connect" starts the authorization code flow through `@gatehouse/client`, the
 * callback stores the connection (tokens encrypted, server-side), the home page shows the connected
 * company and data from the platform API, "Disconnect" revokes the grant.
 *
 * The browser holds one secret cookie: an opaque session ID, HttpOnly, SameSite=Lax, and Secure with
 * the `__Host-` prefix outside development (SPEC §3: tokens never in browser storage). Lax, not Strict:
 * the callback is a top-level navigation from Gatehouse, and a Strict cookie would not come with it.
 * Once a language is chosen (the switch, or a session handover's `locale`) a second cookie holds its tag
 * alone, with the same flags (language-switch.ts).
 *
 * Arriving from Gatehouse (the marketplace's "Connect", or "Settings" on the connected apps page), the
 * browser carries a session handover (`?gatehouse_id_token=…`, SPEC §3): `GET /start` (the registered
 * initiation URI) verifies it with `verifySessionHandover` (signature, typ, iss, aud, expiry, one use)
 * and starts the flow for the company it names (`urn_gatehouse_params_oauth_subject`, pre-selected on the
 * consent page); `GET /settings` (the settings URI) verifies it and shows the app. The handover only
 * says who arrives: it is never used as an access token.
 *
 * Routes: `GET /` · `POST /connect` · `GET /start` · `GET /settings` · `GET /callback` · `GET /disconnect` (the confirmation) ·
 * `POST /disconnect` · `POST /language` (the language switch) · `GET /health`.
 */
import cookie from '@fastify/cookie';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import {
  AuthorizationServerError, CallbackValidationError, ConnectionMismatchError, ConnectionNotDeletedError, ConnectionNotFoundError, ConnectionNotStoredError, createGatehouseClient, DecryptionError, DpopProofRejectedError, ENVIRONMENT_PRESETS, GatehouseClientError, InvalidResponseError, ReauthorizationRequiredError, RefreshFailedError, SessionHandoverError, TransportError,
  type Connection, type Environment, type GatehouseClient, type GatehouseClientOptions,
} from '@gatehouse/client';
import { failureMessage, shownErrorCode } from './failures.ts';
import { chosenLocale, isLocale, matchLocale, pageLanguage, type PageLanguage } from './i18n.ts';
import { LANGUAGE_COOKIE_LIFETIME_SECONDS, languageCookieName, safeReturnPath, switchReturnPath } from './language-switch.ts';
import { connectPage, dashboardPage, disconnectConfirmationPage, errorPage, forgottenNotRevokedPage, layout, reconnectPage, type Company, type User, type Vendor } from './pages.ts';
import { registerApiKeyRoutes } from './api-key-connection.ts';
import { createSessionStore, csrfTokenMatches, type Session } from './sessions.ts';

/** The platform API answered a read with a 4xx other than 429 (e.g. 403: a scope it needs was not granted). */
class PlatformApiRefusal extends Error {
  readonly status: number;
  constructor(status: number, path: string) {
    super(`the platform API answered ${status} to ${path.split('?')[0]}`);
    this.status = status;
  }
}

export interface PartnerAppOptions {
  /** This app's public base URL, e.g. `http://localhost:8080`; the redirect URI is `<publicUrl>/callback`. */
  publicUrl: string;
  /** `development` allows an http cookie (no Secure flag); elsewhere the cookie is `__Host-` and Secure. */
  environment: Environment;
  /** The SDK settings (issuer, client ID and secret, scope, store, encryption keys…); the redirect URI comes from `publicUrl`. */
  gatehouse: Omit<GatehouseClientOptions, 'redirectUri' | 'environment'>;
  /** Shown on every page; default `Ledgerly`. */
  appName?: string;
  /** Default 8 hours. */
  sessionLifetimeSeconds?: number;
  /**
   * Most browser sessions kept in memory, per kind (anonymous; in use: connecting or connected); default 10 000.
   * When the anonymous kind is full the least recently used is dropped; when the in-use kind is full a new
   * connect is refused (503) unless a connect under way has expired: sessions in use are never evicted for it.
   */
  maxSessions?: number;
  /** Request logging (query strings are never logged: the callback's carries the code); default off. */
  logger?: boolean;
}

export interface PartnerApp {
  app: FastifyInstance;
  gatehouse: GatehouseClient;
}

export function createPartnerApp(options: PartnerAppOptions): PartnerApp {
  const publicUrl = new URL(options.publicUrl);
  const redirectUri = new URL('/callback', publicUrl).href;
  const appName = options.appName ?? 'Ledgerly';
  const clock = options.gatehouse.clock ?? { nowSeconds: () => Math.floor(Date.now() / 1000) };
  const secureCookie = options.environment !== 'development' || publicUrl.protocol === 'https:';
  const cookieName = secureCookie ? '__Host-ledgerly_session' : 'ledgerly_session';
  const languageCookie = languageCookieName(secureCookie);
  const sessions = createSessionStore(options.sessionLifetimeSeconds ?? 8 * 60 * 60, options.maxSessions, options.gatehouse.transactionLifetimeSeconds);
  const gatehouse = createGatehouseClient({ ...options.gatehouse, environment: options.environment, redirectUri });

  const app = Fastify({
    logger: options.logger === true ? { serializers: { req: (request) => ({ method: request.method, path: request.url.split('?')[0] }) } } : false,
  });
  app.register(cookie);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  // Form posts and the redirect after them may only go here and to the authorization server (whose
  // authorization endpoint is on the issuer's origin; discovery corrects it if not).
  const issuer = options.gatehouse.issuer ?? ENVIRONMENT_PRESETS[options.environment].issuer;
  let authorizationOrigin = issuer === undefined ? '' : new URL(issuer).origin;
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
    reply.header('content-security-policy', `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${authorizationOrigin}; frame-ancestors 'none'; base-uri 'none'`);
    reply.header('x-frame-options', 'DENY');
    reply.header('x-content-type-options', 'nosniff');
    // The callback URL carries the code: no Referer may carry it off-site. (`no-referrer` would also make
    // browsers send `Origin: null` on this site's own form posts, defeating the origin check.)
    reply.header('referrer-policy', 'same-origin');
    // Pages are in the language the switch's cookie names, else the one Accept-Language asks for.
    reply.header('vary', 'accept-language, cookie');
  });

  const setSessionCookie = (reply: FastifyReply, id: string) => {
    reply.setCookie(cookieName, id, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookie, maxAge: options.sessionLifetimeSeconds ?? 8 * 60 * 60 });
  };
  const currentSession = (request: FastifyRequest) => sessions.find(request.cookies[cookieName], clock.nowSeconds());
  // The session a request made (its cookie is in the answer, not in the request): one per request, however often asked.
  const madeFor = new WeakMap<FastifyRequest, Session>();
  const ensureSession = (request: FastifyRequest, reply: FastifyReply): Session => {
    const existing = madeFor.get(request) ?? currentSession(request);
    if (existing) return existing;
    const { id, session } = sessions.create(clock.nowSeconds());
    setSessionCookie(reply, id);
    madeFor.set(request, session);
    return session;
  };
  const setLanguageCookie = (reply: FastifyReply, locale: string) => {
    reply.setCookie(languageCookie, locale, { path: '/', httpOnly: true, sameSite: 'lax', secure: secureCookie, maxAge: LANGUAGE_COOKIE_LIFETIME_SECONDS });
  };
  const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);
  /**
   * The request's page language (i18n.ts `chosenLocale`: the switch's cookie, else the best match of Accept-Language,
   * else English) and its language switch, which posts the session's CSRF token (a session is made for it, as for
   * every form) and comes back to this page (language-switch.ts `switchReturnPath`).
   */
  const languageOf = (request: FastifyRequest, reply: FastifyReply): PageLanguage => ({
    ...pageLanguage(chosenLocale(request.cookies[languageCookie], request.headers['accept-language'])),
    languageSwitch: { csrfToken: ensureSession(request, reply).csrfToken, returnTo: switchReturnPath(request.url) },
  });
  /** The bound on sessions in use is reached (connects under way that have not expired, and connected users): refuse, evict no one. */
  const tooManyConnects = (request: FastifyRequest, reply: FastifyReply, session: Session) => {
    const lang = languageOf(request, reply);
    reply.header('retry-after', '60');
    return html(reply, 503, errorPage(lang, appName, lang.t.tooManyConnectsTitle, lang.t.tooManyConnectsMessage, session.csrfToken));
  };
  /** A form post with this session's CSRF token, from this origin. */
  const checkedPost = (request: FastifyRequest, reply: FastifyReply): Session | undefined => {
    const session = currentSession(request);
    const origin = request.headers.origin;
    const body = request.body as Record<string, unknown> | undefined;
    if (!session || (origin !== undefined && origin !== publicUrl.origin) || !csrfTokenMatches(session, body?._csrf)) {
      const lang = languageOf(request, reply);
      html(reply, 403, errorPage(lang, appName, lang.t.requestRefusedTitle, lang.t.formExpired));
      return undefined;
    }
    return session;
  };

  const apiJson = async <T>(connectionId: string, path: string): Promise<T> => {
    const response = await gatehouse.fetch(connectionId, path);
    // The API is unavailable (503: Gatehouse unreachable behind it; 429): the 503 page, as when it cannot be reached
    // (it was the 502 "Something went wrong").
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel().catch(() => {});
      throw new TransportError(`the platform API answered ${response.status} to ${path.split('?')[0]}`, `http_${response.status}`);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      throw new PlatformApiRefusal(response.status, path);
    }
    return ((await response.json()) as { data: T }).data;
  };
  const loadDashboard = async (connection: Connection) => {
    const companies = await apiJson<Company[]>(connection.connectionId, '/v1/companies');
    // Company data is read for exactly one company (SPEC §3): an organization's first company here.
    const companyQuery = connection.subjectType === 'organization' && companies[0] ? `&company_id=${encodeURIComponent(companies[0].id)}` : '';
    const [users, vendors] = await Promise.all([
      connection.scope.includes('users:read') ? apiJson<User[]>(connection.connectionId, `/v1/users?limit=10${companyQuery}`) : undefined,
      connection.scope.includes('vendors:read') ? apiJson<Vendor[]>(connection.connectionId, `/v1/vendors?limit=10${companyQuery}`) : undefined,
    ]);
    return { subjectUrn: connection.subjectUrn, scope: connection.scope, companies, users, vendors };
  };

  app.get('/health', async () => ({ status: 'ok' }));

  // The language switch of every page: remembers the language chosen (an unknown one changes nothing) and goes back to
  // the page it was on, a same-origin path only (never an open redirect). A form like every other: CSRF token and Origin.
  app.post('/language', async (request, reply) => {
    const session = checkedPost(request, reply);
    if (!session) return reply;
    const body = request.body as Record<string, unknown>;
    if (isLocale(body.locale)) setLanguageCookie(reply, body.locale);
    return reply.redirect(safeReturnPath(body.return_to), 303);
  });

  /**
   * A verified session handover names the language the user's Gatehouse pages are in (its `locale` claim): the first
   * choice here too, when this browser has not chosen one with the switch (whose cookie always wins).
   */
  const adoptHandoverLocale = (request: FastifyRequest, reply: FastifyReply, handoverLocale: string) => {
    if (isLocale(request.cookies[languageCookie])) return;
    const locale = matchLocale(handoverLocale);
    if (locale) setLanguageCookie(reply, locale);
  };

  // Every failure a route does not answer itself is a page too, never Fastify's JSON: Gatehouse unreachable
  // (discovery on Connect, a token request) is a 503 with a way back; the rest is logged and answered plainly.
  app.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
    const lang = languageOf(request, reply);
    if (error instanceof TransportError) {
      reply.header('retry-after', '60');
      return html(reply, 503, errorPage(lang, appName, lang.t.unavailableTitle, lang.t.unavailableNothingChanged));
    }
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
      return html(reply, error.statusCode, errorPage(lang, appName, lang.t.requestRefusedTitle, lang.t.requestRefusedMessage));
    }
    request.log.error({ err: error }, 'request failed');
    return html(reply, 500, errorPage(lang, appName, lang.t.somethingWrongTitle, lang.t.somethingWrongMessage));
  });
  app.setNotFoundHandler((request, reply) => {
    const lang = languageOf(request, reply);
    return html(reply, 404, errorPage(lang, appName, lang.t.notFoundTitle, lang.t.notFoundMessage));
  });

  app.get('/', async (request, reply) => {
    const lang = languageOf(request, reply);
    const { t } = lang;
    const session = ensureSession(request, reply);
    const connection = session.connectionId === undefined ? undefined : await gatehouse.getConnection(session.connectionId);
    if (!connection) {
      sessions.forgetConnection(session);
      return html(reply, 200, connectPage(lang, appName, session.csrfToken));
    }
    // The raw reason (`invalid_grant: refresh token was already used`, Gatehouse's description) is for the log; the page
    // says what it means and shows the error code only, collapsed (failures.ts).
    const ended = (reason: string | null) => {
      request.log.info({ reason }, 'connection needs reconnecting');
      const code = shownErrorCode(reason);
      return html(reply, 200, reconnectPage(lang, appName, session.csrfToken, { why: code === 'invalid_grant' ? 'grant_ended' : 'unknown', code }));
    };
    if (connection.status !== 'active') return ended(connection.statusReason);
    try {
      return html(reply, 200, dashboardPage(lang, appName, await loadDashboard(connection)));
    } catch (error) {
      if (error instanceof ReauthorizationRequiredError) return ended(error.reason);
      // Made by another client configuration (the app registered again): its tokens are not this client's to use
      // (RFC 6749 §10.4), nor its row to replace. The session lets go of it and offers a new connection (it was the 502
      // "Something went wrong", a dead end: no form to connect from).
      if (error instanceof ConnectionMismatchError) {
        sessions.forgetConnection(session);
        return html(reply, 200, connectPage(lang, appName, session.csrfToken, t.otherRegistration(appName)));
      }
      // The stored tokens cannot be read (their key was dropped from the keyring): connecting again under the same
      // connection ID replaces them (the SDK's handleCallback), so offer Reconnect. This was the 502 "Something went
      // wrong" with a Back link to this same page, and Disconnect fails on them too: no way out for the user.
      if (error instanceof DecryptionError) {
        request.log.error({ err: error }, 'stored tokens cannot be decrypted');
        return html(reply, 200, reconnectPage(lang, appName, session.csrfToken, { why: 'unreadable_tokens', code: error.name }));
      }
      if (error instanceof TransportError || error instanceof RefreshFailedError) {
        // When to try again, as every 503 of this app says (RFC 9110 §10.2.3).
        reply.header('retry-after', '60');
        return html(reply, 503, errorPage(lang, appName, t.unavailableTitle, t.unavailableConnectionFine));
      }
      // The platform API refuses our DPoP proofs even for a freshly refreshed token: its configuration (public origin,
      // clock), not the connection; the SDK refreshes no more for it. Said plainly instead of 'Something went wrong'.
      if (error instanceof DpopProofRejectedError) {
        request.log.error({ err: error }, 'the platform API refuses our DPoP proofs');
        return html(reply, 502, errorPage(lang, appName, t.apiRefusedTitle, t.apiRefusedMessage, undefined, { link: { href: '/', label: t.tryAgain } }));
      }
      // Anything else (the API refusing a read, the refresh lock busy or lost…): try again, then support; what failed only
      // as a code under "Technical details" (it was 'The data could not be loaded.' with a Back link to this same page).
      request.log.error({ err: error }, 'dashboard failed');
      const code = error instanceof PlatformApiRefusal ? `http_${error.status}` : error instanceof GatehouseClientError ? error.name : undefined;
      return html(reply, 502, errorPage(lang, appName, t.somethingWrongTitle, t.dataNotLoaded(appName), undefined, { link: { href: '/', label: t.tryAgain }, code }));
    }
  });

  /**
   * The session's connection when this client made it at this issuer, the one a connect may replace. One made by
   * another client configuration (the app registered again) is not replaced (the SDK refuses it, RFC 6749 §10.4): a
   * connect then makes a new connection.
   */
  const replaceableConnection = async (session: Session): Promise<Connection | undefined> => {
    const existing = session.connectionId === undefined ? undefined : await gatehouse.getConnection(session.connectionId);
    if (!existing) return undefined;
    const { issuer: discoveredIssuer } = await gatehouse.discover();
    const sameIssuer = URL.canParse(existing.issuer) && new URL(existing.issuer).href === new URL(discoveredIssuer).href;
    return sameIssuer && existing.clientId === gatehouse.clientId ? existing : undefined;
  };

  app.post('/connect', async (request, reply) => {
    const session = checkedPost(request, reply);
    if (!session) return reply;
    const existing = await replaceableConnection(session);
    const { url, transaction } = await gatehouse.authorizationUrl({
      // A reconnect keeps the connection ID and pre-selects the same company.
      ...(existing ? { connectionId: existing.connectionId, subjectUrn: existing.subjectUrn } : {}),
    });
    if (!sessions.beginTransaction(session, transaction, clock.nowSeconds())) return tooManyConnects(request, reply, session);
    authorizationOrigin = url.origin;
    return reply.redirect(url.href, 303);
  });

  /**
   * Verifies the handover on this request, or answers 400 (a refused handover: expired, replayed, for
   * another app…) and returns undefined. Only `reason` is logged, never the token.
   */
  const verifiedHandover = async (request: FastifyRequest, reply: FastifyReply, session: Session) => {
    try {
      return await gatehouse.verifySessionHandover(new URL(request.url, publicUrl));
    } catch (error) {
      if (!(error instanceof SessionHandoverError)) throw error;
      const lang = languageOf(request, reply);
      request.log.warn({ reason: error.reason }, 'session handover refused');
      // Gatehouse's keys could not be fetched: nothing is wrong with the link, and it may work in a minute
      // (it was answered "expired or already used", a 400 that sent the user to start over for an outage).
      if (error.reason === 'jwks_unavailable') {
        reply.header('retry-after', '60');
        html(reply, 503, errorPage(lang, appName, lang.t.unavailableTitle, lang.t.unavailableLinkCheck));
        return undefined;
      }
      html(reply, 400, errorPage(lang, appName, lang.t.linkUnusableTitle, lang.t.linkUnusableMessage, session.csrfToken));
      return undefined;
    }
  };

  // The initiation URI: arriving from Gatehouse's marketplace with the company picked there.
  app.get('/start', async (request, reply) => {
    const session = ensureSession(request, reply);
    const handover = await verifiedHandover(request, reply, session);
    if (!handover) return reply;
    adoptHandoverLocale(request, reply, handover.locale);
    const existing = await replaceableConnection(session);
    const { url, transaction } = await gatehouse.authorizationUrl({
      subjectUrn: handover.subjectUrn,
      // The session's connection is replaced, as Connect does: the same company keeps its grant's place, and for
      // another one the SDK revokes the replaced grant. A new connection ID for another company left the previous
      // connection behind, its grant alive and its tokens stored, with no session left to use or disconnect it.
      ...(existing ? { connectionId: existing.connectionId } : {}),
    });
    if (!sessions.beginTransaction(session, transaction, clock.nowSeconds())) return tooManyConnects(request, reply, session);
    authorizationOrigin = url.origin;
    return reply.redirect(url.href, 303);
  });

  // The settings URI: this example's settings are its home page.
  app.get('/settings', async (request, reply) => {
    const session = ensureSession(request, reply);
    const handover = await verifiedHandover(request, reply, session);
    if (!handover) return reply;
    adoptHandoverLocale(request, reply, handover.locale);
    return reply.redirect('/', 303);
  });

  app.get('/callback', async (request, reply) => {
    const lang = languageOf(request, reply);
    const { t } = lang;
    const sessionId = request.cookies[cookieName];
    const session = currentSession(request);
    // One transaction, one callback.
    const transaction = session === undefined ? undefined : sessions.takeTransaction(session);
    if (!session || !transaction) {
      // Neutral: the request may be fine and the app's record of it gone (expired, the server restarted).
      return html(reply, 400, errorPage(lang, appName, t.notCompletedTitle, t.notCompletedMessage));
    }
    try {
      // The URL as registered (not the Host header) plus the query Gatehouse sent.
      const callbackUrl = new URL(request.url, publicUrl);
      const { connection } = await gatehouse.handleCallback(callbackUrl, transaction);
      // A new session ID after connecting (no fixation of a pre-login ID).
      sessions.delete(sessionId!);
      const { id } = sessions.create(clock.nowSeconds(), { connectionId: connection.connectionId });
      setSessionCookie(reply, id);
      return reply.redirect('/', 303);
    } catch (error) {
      if (error instanceof AuthorizationServerError && error.error === 'access_denied') {
        return html(reply, 200, connectPage(lang, appName, session.csrfToken, t.denied(appName)));
      }
      // The code exchange did not reach Gatehouse, or Gatehouse answered 5xx/429: nothing is wrong with the answer it
      // sent (this said "could not be verified"), it is unavailable; the same 503 as everywhere else, with a way to retry.
      if (error instanceof TransportError) {
        reply.header('retry-after', '60');
        return html(reply, 503, errorPage(lang, appName, t.unavailableTitle, t.unavailableNothingConnected, session.csrfToken));
      }
      // The token store (or the refresh lock) failed after Gatehouse issued the tokens: the SDK revoked them, best effort.
      // Say whether Gatehouse may still list the app, since nothing here can disconnect it then.
      if (error instanceof ConnectionNotStoredError) {
        request.log.error({ err: error }, 'connection not stored');
        const issuerBase = new URL(`${(await gatehouse.discover()).issuer.replace(/\/$/, '')}/`);
        return html(reply, 500, errorPage(lang, appName, t.notConnectedTitle, error.grantRevoked ? t.notStoredRevoked(appName) : t.notStoredNotRevoked(appName),
        session.csrfToken, error.grantRevoked ? {} : { link: { href: new URL('account/connected-apps', issuerBase).href, label: t.connectedAppsAtGatehouse } }));
      }
      // Not about Gatehouse's answer (the token store failing before the exchange, the refresh lock busy…): the app's own
      // failure, the error handler's 500; it was "the answer from Gatehouse could not be verified", hiding the real failure.
      if (!(error instanceof AuthorizationServerError || error instanceof CallbackValidationError || error instanceof InvalidResponseError)) throw error;
      // Gatehouse's error code in words (its description and the SDK's message only in the log, which holds no token).
      const message = error instanceof AuthorizationServerError ? failureMessage(t, appName, error.error) : t.answerNotVerified;
      const code = error instanceof AuthorizationServerError ? shownErrorCode(error.error) : error.name;
      request.log.warn({ err: error }, 'callback refused');
      return html(reply, 400, errorPage(lang, appName, t.notConnectedTitle, message, session.csrfToken, { code }));
    }
  });

  // The confirmation before Disconnect and Forget this connection (their buttons lead here; a GET changes nothing).
  app.get('/disconnect', async (request, reply) => {
    const session = ensureSession(request, reply);
    if (session.connectionId === undefined) return reply.redirect('/', 303);
    return html(reply, 200, disconnectConfirmationPage(languageOf(request, reply), appName, session.csrfToken, (request.query as Record<string, unknown>).forget === 'yes'));
  });

  app.post('/disconnect', async (request, reply) => {
    const lang = languageOf(request, reply);
    const { t } = lang;
    const disconnectAgain = { retry: { action: '/disconnect', label: t.disconnectAgain } };
    const session = checkedPost(request, reply);
    if (!session) return reply;
    if (session.connectionId !== undefined) {
      try {
        const connection = await gatehouse.getConnection(session.connectionId);
        // Tokens no key can decrypt cannot be revoked from here; the user asked to forget the connection, so it is
        // deleted all the same (it failed with "Disconnecting did not finish", the Reconnect page's only other way out).
        const outcome = await gatehouse.revoke(session.connectionId, { undecryptable: 'delete' });
        if (outcome === 'deleted_undecryptable' && connection) {
          request.log.warn('connection forgotten without revoking its grant: its tokens cannot be decrypted');
          sessions.forgetConnection(session);
          const issuerBase = connection.issuer.endsWith('/') ? connection.issuer : `${connection.issuer}/`;
          return html(reply, 200, forgottenNotRevokedPage(lang, appName, session.csrfToken, new URL('account/connected-apps', issuerBase).href));
        }
      } catch (error) {
        if (!(error instanceof ConnectionNotFoundError)) {
          request.log.error({ err: error }, 'revocation failed');
          // Gatehouse answered and refused (a suspended client: invalid_client): trying again does not help, and it
          // was reached (every failure said "could not be reached … try again").
          if (error instanceof AuthorizationServerError) {
            return html(reply, 502, errorPage(lang, appName, t.couldNotDisconnectTitle, `${t.revocationRefused} ${failureMessage(t, appName, error.error)}`, session.csrfToken, {
              ...disconnectAgain, code: shownErrorCode(error.error),
            }));
          }
          if (error instanceof TransportError) {
            return html(reply, 502, errorPage(lang, appName, t.couldNotDisconnectTitle, t.revocationUnreachable, session.csrfToken, disconnectAgain));
          }
          // Revoked at Gatehouse, but the token store failed to delete the connection: the access has ended; only the
          // local record is left, which the same button deletes (the SDK's revoke again).
          if (error instanceof ConnectionNotDeletedError) {
            return html(reply, 500, errorPage(lang, appName, t.couldNotDisconnectTitle, t.notForgotten(appName), session.csrfToken, disconnectAgain));
          }
          // Nothing was sent (a connection made by another client configuration, the refresh lock busy…), the answer was unusable, or Gatehouse revoked the grant and the token store then failed
          // to forget the connection: Gatehouse was not "unreachable", and whether the access is still granted is not
          // known here (it said "could not be revoked", untrue after a revocation that went through). The connection is kept.
          return html(reply, 500, errorPage(lang, appName, t.couldNotDisconnectTitle, t.disconnectNotFinished(appName), session.csrfToken, disconnectAgain));
        }
      }
      sessions.forgetConnection(session);
    }
    return reply.redirect('/', 303);
  });

  // Issue 16: the "paste an API key" path for integrated API keys (api-key-connection.ts).
  const apiUrl = options.gatehouse.apiUrl ?? ENVIRONMENT_PRESETS[options.environment].apiUrl;
  if (apiUrl !== undefined) registerApiKeyRoutes(app, { appName, apiUrl, ensureSession, checkedPost, html, layout, languageOf });

  return { app, gatehouse };
}

export interface RunningPartnerApp extends PartnerApp {
  url: string;
  close(): Promise<void>;
}

/** Creates the app and listens on `host:port` (port 0 picks a free one). */
export async function startPartnerApp(options: PartnerAppOptions & { port: number; host: string }): Promise<RunningPartnerApp> {
  const partner = createPartnerApp(options);
  await partner.app.listen({ port: options.port, host: options.host });
  const address = partner.app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { ...partner, url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`, close: () => partner.app.close() };
}
