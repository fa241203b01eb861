/**
 * What every handler that asks before a destructive action needs (issue 13 "Languages"): such a handler answers a
 * POST with a confirmation page (pages/confirmation.ts `confirmationForms`), and acts on the same POST sent again
 * with `confirm=yes`. The page has no address, so its language switch posts the same values again without `confirm`
 * and with the `locale` chosen; the handler remembers that language and shows the same confirmation in it. A link to
 * GET /language went back to the page the action started from, and the action waiting for confirmation was lost.
 *
 * Used by the portal (portal.ts, portal-team.ts, portal-invitations.ts, portal-webhooks.ts), the user's account
 * (account.ts, api-keys.ts, sessions.ts) and the console (console.ts, console-directory.ts, console-api-keys.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { noteChosenLocale, rememberChosenLocale } from '../i18n/request-language.ts';
import type { ServerContext } from '../server-context.ts';

type Body = Record<string, unknown>;

const bodyOf = (request: FastifyRequest): Body => (request.body ?? {}) as Body;

/**
 * Whether a form came from a confirmation page's language switch: it carries the `locale` chosen. Such a form only
 * ever shows the confirmation again, in that language; it never acts, whatever else it says (`confirm=yes` included).
 */
export const switchingLanguage = (body: Body): boolean => body.locale !== undefined;

/**
 * Whether a confirmation's form says to act: `confirm=yes`, and not a language switch (`switchingLanguage`). Every
 * handler that answers with a confirmation acts only when this holds, and otherwise shows the confirmation.
 */
export const confirmedAction = (request: FastifyRequest): boolean => bodyOf(request).confirm === 'yes' && !switchingLanguage(bodyOf(request));

/**
 * A language switch's `locale` (`switchingLanguage`; any other value, or none, is ignored) remembered as GET /language
 * remembers it, and noted for this request so its answer is in that language. Called before the page's translator is
 * made (before the handler reads the session: the signed-in frame carries the translator).
 */
export function rememberSwitchedLocale(context: ServerContext, request: FastifyRequest, reply: FastifyReply): void {
  const locale = rememberChosenLocale(context, reply, bodyOf(request).locale);
  if (locale !== undefined) noteChosenLocale(request, locale);
}
