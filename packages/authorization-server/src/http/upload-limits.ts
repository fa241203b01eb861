/**
 * Bounds on the two multipart uploads (the portal's registration form and logo upload), checked before a
 * byte of the body is read. The multipart parser reads the request stream itself (a route's `bodyLimit`
 * does not apply to it) and, past the logo's size, reads and drops the rest of the file so the page can
 * say "too large": without these checks, anyone could make the server read and parse an upload of any
 * size, signed in or not (review of 2026-12-08: 6 GB read in 12 s, other requests slowed 25–80×).
 *
 * - No `Content-Length` (a chunked body): 411. Browsers always send one with a form post.
 * - `Content-Length` over UPLOAD_BODY_LIMIT_BYTES: 413 page, connection closed.
 * - Nobody signed in: the sign-in step (as the portal answers any form sent after its session ended),
 *   before the body is read.
 * Under the limit, an oversized logo is still answered in the form (issue 13).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { LOGO_MAX_BYTES } from '../clients/client-management.ts';
import { requestTranslator } from '../i18n/request-language.ts';
import { errorPage } from '../pages/error-page.ts';
import type { ServerContext } from '../server-context.ts';
import { sessionUser } from '../sessions/login-session.ts';
import { developer } from '../endpoints/portal.ts';

/**
 * The largest multipart body the upload routes read, in bytes: room for a logo several times the 1 MiB
 * maximum (so a too-large photo is still refused in the form, with the other fields kept) and the
 * form's bounded fields (40 × 16 KiB).
 */
export const UPLOAD_BODY_LIMIT_BYTES = 8 * LOGO_MAX_BYTES;

/** @returns the `onRequest` hook of the upload routes (runs before the body is read). */
export function uploadLimits(context: ServerContext): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    const declared = request.headers['content-length'];
    if (declared === undefined) {
      // RFC 9110 §15.5.12: a body of unknown length is not read here.
      const t = requestTranslator(request);
      await reply.code(411).header('cache-control', 'no-store').header('connection', 'close').type('text/html; charset=utf-8')
        .send(errorPage(context.options.brand.name, t.t('error.uploadLengthRequiredTitle'), t.t('error.uploadLengthRequired'), {
          t, links: [{ href: '/portal', label: t.t('error.openPortal') }], reference: request.id,
        }));
      return;
    }
    if (Number(declared) > UPLOAD_BODY_LIMIT_BYTES) {
      // RFC 9110 §15.5.14; `Connection: close`, so the rest of the upload is not waited for.
      const t = requestTranslator(request);
      await reply.code(413).header('cache-control', 'no-store').header('connection', 'close').type('text/html; charset=utf-8')
        .send(errorPage(context.options.brand.name, t.t('error.uploadTooLargeTitle'), t.t('error.uploadTooLarge', { megabytes: LOGO_MAX_BYTES / (1024 * 1024) }), {
          t, links: [{ href: '/portal', label: t.t('error.openPortal') }], reference: request.id,
        }));
      return;
    }
    if (await sessionUser(context, request)) return;
    // The portal's own answer to a form sent without a session (the sign-in step); it reads no body.
    reply.header('connection', 'close');
    await developer(context, request, reply);
  };
}
