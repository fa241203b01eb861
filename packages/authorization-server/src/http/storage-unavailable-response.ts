/**
 * How the server answers while its storage is unreachable (SPEC decision 18; RFC 6749 §4.1.2.1 and §5.2
 * `temporarily_unavailable`; RFC 9110 §15.6.4 503 with §10.2.3 `Retry-After`): JSON at the JSON endpoints,
 * an HTML page where a browser is (before the redirect URI is established). Never a 500, never a crash.
 */
import { requestTranslator } from '../i18n/request-language.ts';
import type { FastifyReply } from 'fastify';
import { OAuthError } from '../errors.ts';
import { errorPage } from '../pages/error-page.ts';

/** What `Retry-After` says, in seconds: about how long a restarted or failed-over database takes to answer again. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;

const DESCRIPTION = 'the service is temporarily unavailable, retry later';

/** 503 `{"error":"temporarily_unavailable"}` with `Retry-After` and `Cache-Control: no-store`. */
export function sendStorageUnavailableJson(reply: FastifyReply): void {
  reply.code(503).header('retry-after', String(STORAGE_RETRY_AFTER_SECONDS)).header('cache-control', 'no-store').header('pragma', 'no-cache')
    .type('application/json; charset=utf-8').send(new OAuthError('temporarily_unavailable', DESCRIPTION).toJSON());
}

/** 503 HTML page with `Retry-After` and `Cache-Control: no-store`, for pages and for /oauth/authorize before the redirect URI is established. */
export function sendStorageUnavailablePage(reply: FastifyReply, brandName: string): void {
  reply.code(503).header('retry-after', String(STORAGE_RETRY_AFTER_SECONDS)).header('cache-control', 'no-store').type('text/html; charset=utf-8')
    .send(storageUnavailablePage(reply, brandName));
}

/** The page itself, in the request's language (issue 13). */
function storageUnavailablePage(reply: FastifyReply, brandName: string): string {
  const t = requestTranslator(reply.request);
  return errorPage(brandName, t.t('error.unavailableTitle'), t.t('error.unavailable'), { t, reference: reply.request.id });
}
