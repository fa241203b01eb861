/**
 * The partner app's "paste an API key" path (issue 16: integrated API keys, for integrations that cannot
 * do OAuth). After installing the integration on Gatehouse's marketplace, the administrator copies the key
 * and pastes it here; the app validates it with a test call (`GET /v1/introspect` with HTTP Basic, the key
 * as the user name and an empty password) and then calls the API with it.
 *
 * The key stays on the server (SPEC §3 integrator rules): held for the browser session in memory,
 * encrypted with AES-256-GCM under a key made at start-up; never logged, never sent to the browser again.
 * A refused call (401: the key was revoked, rotated or expired) forgets it and asks for a new one.
 *
 * Routes: `GET /api-key` (the form, or the data fetched with the key) · `POST /api-key` (validate, keep) ·
 * `POST /api-key/forget`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import escapeHtml from 'escape-html';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PageLanguage } from './i18n.ts';
import { connectionDetails, errorPage } from './pages.ts';
import type { Session } from './sessions.ts';

export interface ApiKeyRouteDependencies {
  appName: string;
  /** The platform API's base URL, e.g. `http://localhost:3001`. */
  apiUrl: string;
  ensureSession(request: FastifyRequest, reply: FastifyReply): Session;
  /** The session of a same-origin form post with its CSRF token, or undefined after a 403 page. */
  checkedPost(request: FastifyRequest, reply: FastifyReply): Session | undefined;
  html(reply: FastifyReply, status: number, body: string): FastifyReply;
  layout(appName: string, title: string, body: string, lang: PageLanguage): string;
  /** The request's page language (the switch's cookie, else Accept-Language) and its language switch. */
  languageOf(request: FastifyRequest, reply: FastifyReply): PageLanguage;
}

/** AES-256-GCM under a per-process key: a memory dump of the map alone yields no key. */
function createSealer() {
  const key = randomBytes(32);
  return {
    seal(value: string): Buffer {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    },
    open(sealed: Buffer): string {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
      decipher.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
    },
  };
}

const basic = (apiKey: string) => `Basic ${Buffer.from(`${apiKey}:`).toString('base64')}`;

interface ApiKeyConnection {
  sealedKey: Buffer;
  subjectUrn: string;
  scope: string;
}

export function registerApiKeyRoutes(app: FastifyInstance, deps: ApiKeyRouteDependencies): void {
  const sealer = createSealer();
  const connections = new WeakMap<Session, ApiKeyConnection>();
  const call = (apiKey: string, path: string) => fetch(new URL(path, deps.apiUrl), { headers: { authorization: basic(apiKey) }, signal: AbortSignal.timeout(5_000) });

  const formPage = (lang: PageLanguage, session: Session, notice?: string) => deps.layout(deps.appName, lang.t.apiKeyTitle, `${notice ? `<p class="notice" role="alert">${escapeHtml(notice)}</p>` : ''}
<h2>${escapeHtml(lang.t.apiKeyTitle)}</h2>
<p>${escapeHtml(lang.t.apiKeyIntro(deps.appName))}</p>
<form method="post" action="/api-key"><input type="hidden" name="_csrf" value="${escapeHtml(session.csrfToken)}">
<p><label for="api_key">${escapeHtml(lang.t.apiKeyLabel)}</label><br><input id="api_key" name="api_key" type="password" autocomplete="off" size="60" required></p>
<button type="submit">${escapeHtml(lang.t.apiKeyCheckButton)}</button></form>`, lang);

  /** The kept key's data cannot be had now: every 503 of the app says when to try again (Retry-After, RFC 9110 §10.2.3). */
  const unavailable = (lang: PageLanguage, reply: FastifyReply) => {
    reply.header('retry-after', '60');
    // With a way onward (it was the sentence alone): Try again reloads this page, Back goes home.
    return deps.html(reply, 503, errorPage(lang, deps.appName, lang.t.unavailableTitle, lang.t.apiKeyKept, undefined, { link: { href: '/api-key', label: lang.t.tryAgain } }));
  };

  app.get('/api-key', async (request, reply) => {
    const lang = deps.languageOf(request, reply);
    const { t } = lang;
    const session = deps.ensureSession(request, reply);
    const connection = connections.get(session);
    if (!connection) return deps.html(reply, 200, formPage(lang, session));
    let response: Response;
    try {
      response = await call(sealer.open(connection.sealedKey), '/v1/users?limit=10');
    } catch {
      return unavailable(lang, reply);
    }
    if (response.status === 401) {
      // Revoked, rotated or expired: forget it and ask for a new one (never retry forever).
      connections.delete(session);
      return deps.html(reply, 200, formPage(lang, session, t.apiKeyNoLongerAccepted));
    }
    // The API is unavailable (503: Gatehouse unreachable behind it; 429): as unreachable, not "something went wrong".
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel().catch(() => {});
      return unavailable(lang, reply);
    }
    // Refused otherwise (403: the key does not allow reading users…): said in words with the ways onward (try again,
    // forget the key, home); the status only in the technical details (it was 'The platform API answered 403.', alone).
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      return deps.html(reply, 502, errorPage(lang, deps.appName, t.somethingWrongTitle, t.apiKeyDataRefused, session.csrfToken, {
        retry: { action: '/api-key/forget', label: t.apiKeyForget }, link: { href: '/api-key', label: t.tryAgain }, code: `http_${response.status}`,
      }));
    }
    const users = ((await response.json()) as { data: Array<{ name: string; email: string }> }).data;
    return deps.html(reply, 200, deps.layout(deps.appName, t.apiKeyConnectedTitle, `<h2>${escapeHtml(t.apiKeyConnectedTitle)}</h2>
<h3>${escapeHtml(t.users)}</h3><ul data-testid="users">${users.map((user) => `<li>${escapeHtml(user.name)} (${escapeHtml(user.email)})</li>`).join('')}</ul>
<form method="post" action="/api-key/forget"><input type="hidden" name="_csrf" value="${escapeHtml(session.csrfToken)}"><button type="submit" class="secondary">${escapeHtml(t.apiKeyForget)}</button></form>
${connectionDetails(lang, connection.subjectUrn, connection.scope)}`, lang));
  });

  app.post('/api-key', async (request, reply) => {
    const session = deps.checkedPost(request, reply);
    if (!session) return reply;
    const lang = deps.languageOf(request, reply);
    const { t } = lang;
    const apiKey = String((request.body as Record<string, unknown>).api_key ?? '').trim();
    if (!/^gak_[A-Za-z0-9_.-]{1,200}$/.test(apiKey)) return deps.html(reply, 422, formPage(lang, session, t.apiKeyMalformed));
    // The test call: Gatehouse says whether the key works, and what it may do.
    let response: Response;
    try {
      response = await call(apiKey, '/v1/introspect');
    } catch {
      reply.header('retry-after', '60');
      return deps.html(reply, 503, formPage(lang, session, t.apiKeyUnreachable));
    }
    // The API could not check the key (503: Gatehouse unreachable behind it; 429: too many checks): the key may be
    // fine, so the user is not told to look for a copying mistake (it was a 422 "did not accept this API key").
    if (response.status >= 500 || response.status === 429) {
      await response.body?.cancel().catch(() => {});
      reply.header('retry-after', '60');
      return deps.html(reply, 503, formPage(lang, session, t.apiKeyCannotCheck));
    }
    if (!response.ok) return deps.html(reply, 422, formPage(lang, session, t.apiKeyNotAccepted));
    const { data } = (await response.json()) as { data: { authMethod: string; scope: string; subjectURN: string } };
    connections.set(session, { sealedKey: sealer.seal(apiKey), subjectUrn: data.subjectURN, scope: data.scope });
    return reply.redirect('/api-key', 303);
  });

  app.post('/api-key/forget', async (request, reply) => {
    const session = deps.checkedPost(request, reply);
    if (!session) return reply;
    connections.delete(session);
    return reply.redirect('/api-key', 303);
  });
}
