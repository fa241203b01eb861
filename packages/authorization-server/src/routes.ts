/**
 * The route table: every endpoint of the authorization server on one screen.
 */
import fastifyMultipart from '@fastify/multipart';
import { uploadLimits } from './http/upload-limits.ts';
import { LOGO_MAX_BYTES } from './clients/client-management.ts';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ADMIN_API_PREFIX, adminApi } from './admin/admin-api.ts';
import { clientLogoEndpoint } from './endpoints/client-logo.ts';
import {
  accountEndpoint, connectedAppSettingsEndpoint, connectedAppsEndpoint, homeEndpoint, disconnectEndpoint, marketplaceConnectEndpoint, marketplaceEndpoint,
} from './endpoints/account.ts';
import {
  portalClientActivity, portalDeleteClient, portalHome, portalNewClient, portalRegisterClient, portalRotateSecret, portalShowClient, portalUpdateClient, portalUploadLogo,
} from './endpoints/portal.ts';
import { portalRemoveWebhook, portalResendWebhookDelivery, portalRotateWebhookSecret, portalSetWebhook, portalWebhook } from './endpoints/portal-webhooks.ts';
import { portalInviteTeammate, portalRemoveTeammate, portalRevokeInvitation, portalTeam } from './endpoints/portal-team.ts';
import { portalAcceptInvitation, portalDeclineInvitation, portalInvitation, portalInvitations } from './endpoints/portal-invitations.ts';
import { portalTryFlow, portalTryFlowPage, portalTryFlowResult } from './endpoints/portal-try-flow.ts';
import { authorizationDecisionEndpoint, authorizationEndpoint, consentLanguageEndpoint, consentViewEndpoint } from './endpoints/authorization.ts';
import {
  consoleAudit, consoleAuditExport, consoleClientAction, consoleClients, consoleGrants, consoleHome, consoleRevokeGrant,
} from './endpoints/console.ts';
import { consoleReviewedLogo } from './endpoints/console.ts';
import { consoleRemoveMembership, consoleSubjects, consoleUser, consoleUsers } from './endpoints/console-directory.ts';
import { introspectionEndpoint } from './endpoints/introspection.ts';
import {
  apiKeysEndpoint, createApiKeyEndpoint, createdApiKeyEndpoint, deleteApiKeyEndpoint, installApiKeyEndpoint, newApiKeyEndpoint, revokeIntegratedApiKeyEndpoint,
} from './endpoints/api-keys.ts';
import { consoleApiKeys, consoleRevokeApiKey } from './endpoints/console-api-keys.ts';
import { loginEndpoint, RETURN_TO } from './endpoints/login.ts';
import type { RawParameters } from './http/parameters.ts';
import type { LoginThrottle } from './endpoints/login-throttle.ts';
import { logoutEndpoint, signedOutEndpoint } from './endpoints/logout.ts';
import { authorizationServerMetadata } from './endpoints/metadata.ts';
import { forgotPasswordEndpoint, forgotPasswordFormEndpoint } from './endpoints/password-reset.ts';
import { setPasswordEndpoint, setPasswordFormEndpoint } from './endpoints/password-setup.ts';
import { pushedAuthorizationRequestEndpoint } from './endpoints/pushed-authorization-request.ts';
import { revocationEndpoint } from './endpoints/revocation.ts';
import {
  confirmEnrolmentEndpoint, disableSecondFactorEndpoint, enrolmentEndpoint, secondFactorEndpoint, secondFactorFormEndpoint, securityEndpoint, startEnrolmentEndpoint,
} from './endpoints/second-factor.ts';
import { revocationFeedEndpoint } from './endpoints/revocation-feed.ts';
import { endOtherSessionsEndpoint, endSessionEndpoint, sessionsEndpoint } from './endpoints/sessions.ts';
import { languageEndpoint } from './endpoints/language.ts';
import { sendNoStoreJson, tokenEndpoint } from './endpoints/token.ts';
import { passwordLoginDisabledEndpoint, upstreamLoginCallbackEndpoint, upstreamLoginStartEndpoint } from './endpoints/upstream-login.ts';
import { OAuthError } from './errors.ts';
import { sameOriginFormCheck } from './http/same-origin-form.ts';
import { oauthEndpointRateLimit, RateLimitExceededError, sendRateLimited } from './http/rate-limit.ts';
import { readinessEndpoint } from './endpoints/health.ts';
import { sendStorageUnavailableJson } from './http/storage-unavailable-response.ts';
import { isStorageUnavailable } from './storage/storage-unavailable.ts';
import { STYLESHEET } from './pages/layout.ts';
import { PORTAL_SCRIPT } from './pages/portal-script.ts';
import type { ServerContext } from './server-context.ts';
import { localPasswordsEnabled } from './sessions/upstream-identity.ts';

type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;


export async function registerRoutes(app: FastifyInstance, context: ServerContext, throttle: LoginThrottle): Promise<void> {
  // SPEC decision 18: every state-changing form is Origin-checked (before its body is read) and CSRF-checked.
  const csrf = { onRequest: sameOriginFormCheck(context), preHandler: app.csrfProtection };

  // RFC 9110 §9.2.1: HEAD is safe, but this GET is not (it spends a request_uri, stores an interaction, may issue a
  // code): a link checker's HEAD must not do any of that, so HEAD is not answered as GET here (405 with Allow:
  // GET, http/method-not-allowed.ts).
  app.get('/oauth/authorize', { exposeHeadRoute: false }, (request, reply) => authorizationEndpoint(context, request, reply));
  app.post('/oauth/authorize/decision', csrf, (request, reply) => authorizationDecisionEndpoint(context, request, reply));
  // The consent page's language switch (pages/consent-page.ts): the same consent again, in the language chosen.
  app.post('/oauth/authorize/language', csrf, (request, reply) => consentLanguageEndpoint(context, request, reply));
  // Where the switch redirects (Post/Redirect/Get): that consent again, from its interaction; it only reads (HEAD too).
  app.get('/oauth/authorize/consent', (request, reply) => consentViewEndpoint(context, request, reply));
  // Issue 10 §2: with local passwords off, POST /login checks nothing and points to the upstream sign-in.
  const passwords = localPasswordsEnabled(context);
  app.post('/login', csrf, (request, reply) => (passwords ? loginEndpoint(context, throttle, request, reply) : passwordLoginDisabledEndpoint(context, request, reply)));
  // A browser opening /login (typed, bookmarked, reloaded after a refused password) goes back to where the sign-in
  // continues (`return_to`, which the login form's address carries, checked as POST /login checks it: never an
  // open redirect), else to the sign-in of the account page; it answered 405. Nothing happens on this GET.
  app.get('/login', async (request, reply) => {
    const returnTo = (request.query as RawParameters).return_to;
    reply.header('cache-control', 'no-store').redirect(typeof returnTo === 'string' && RETURN_TO.test(returnTo) ? returnTo : '/account', 303);
  });
  app.get('/login/upstream', (request, reply) => upstreamLoginStartEndpoint(context, request, reply));
  // Spends the sign-in's state: no HEAD either, as above.
  app.get('/login/upstream/callback', { exposeHeadRoute: false }, (request, reply) => upstreamLoginCallbackEndpoint(context, request, reply));

  const rateLimited = oauthEndpointRateLimit(context); // SPEC decision 18: per address, and per client once authenticated
  app.post('/oauth/token', json(rateLimited('token', (request, reply) => tokenEndpoint(context, request, reply))));
  app.post('/oauth/token/introspect', json(rateLimited('introspection', (request, reply) => introspectionEndpoint(context, request, reply))));
  app.post('/oauth/par', json(rateLimited('pushed_authorization_request', (request, reply) => pushedAuthorizationRequestEndpoint(context, request, reply))));
  app.post('/oauth/revoke', json(rateLimited('revocation', (request, reply) => revocationEndpoint(context, request, reply))));
  app.get('/oauth/revoked-access-tokens', json((request, reply) => revocationFeedEndpoint(context, request, reply)));

  app.get('/.well-known/oauth-authorization-server', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300').send(authorizationServerMetadata(context));
  });
  // RFC 7517: the public keys of JWT access tokens (resource servers that validate locally) and of session
  // handover tokens (partner apps); each its own `kid`, and each verifier accepts only its own `typ`.
  app.get('/.well-known/jwks.json', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300').send({ keys: [...context.signingKey.publishedJwks(), ...context.handoverSigningKey.publishedJwks()] });
  });
  // The developer portal (partner developers; CSRF on every form).
  app.get('/portal', (request, reply) => portalHome(context, request, reply));
  app.get('/portal/clients/new', (request, reply) => portalNewClient(context, request, reply));
  // The two forms with a logo upload take multipart bodies (every other route refuses them: http/request-guards.ts).
  // The multipart plugin lives in a context of their own: registered on the whole server it added three
  // async hooks (onRequest, preValidation, onResponse) to every request (issue 12).
  const uploadRoutes: FastifyPluginAsync = async (withUploads) => {
    // Fields and the file land in request.body (so the CSRF check reads `_csrf` as for any form); one file
    // of at most 1 MiB, a bounded number of small fields.
    await withUploads.register(fastifyMultipart, {
      attachFieldsToBody: 'keyValues',
      // Issue 13: an oversized logo is answered in the page, not by a 413: the file is cut one byte past the
      // logo maximum (the rest of the upload is read and dropped, never buffered) and the handler refuses it.
      limits: { files: 1, fileSize: LOGO_MAX_BYTES + 1, fields: 40, fieldSize: 16 * 1024, parts: 42 },
      throwFileSizeLimit: false,
    });
    // Before the body is read: a bounded, declared size and a signed-in user (http/upload-limits.ts).
    const uploadCsrf = { onRequest: [csrf.onRequest, uploadLimits(context)], preHandler: csrf.preHandler };
    withUploads.post('/portal/clients', uploadCsrf, (request, reply) => portalRegisterClient(context, request, reply));
    withUploads.post('/portal/clients/:client_id/logo', uploadCsrf, (request, reply) => portalUploadLogo(context, request, reply));
  };
  await app.register(uploadRoutes);
  // The address a refused registration leaves in the address bar, opened again: the registration form (it answered 405).
  app.get('/portal/clients', async (_request, reply) => {
    reply.header('cache-control', 'no-store').redirect('/portal/clients/new', 303);
  });
  app.get('/portal/clients/:client_id', (request, reply) => portalShowClient(context, request, reply));
  app.post('/portal/clients/:client_id', csrf, (request, reply) => portalUpdateClient(context, request, reply));
  app.post('/portal/clients/:client_id/secret', csrf, (request, reply) => portalRotateSecret(context, request, reply));
  app.post('/portal/clients/:client_id/delete', csrf, (request, reply) => portalDeleteClient(context, request, reply));
  app.get('/portal/clients/:client_id/activity', (request, reply) => portalClientActivity(context, request, reply));
  // Issue 15 §5: partner webhooks in the portal (endpoints/portal-webhooks.ts).
  app.get('/portal/clients/:client_id/webhook', (request, reply) => portalWebhook(context, request, reply));
  app.post('/portal/clients/:client_id/webhook', csrf, (request, reply) => portalSetWebhook(context, request, reply));
  app.post('/portal/clients/:client_id/webhook/secret', csrf, (request, reply) => portalRotateWebhookSecret(context, request, reply));
  app.post('/portal/clients/:client_id/webhook/remove', csrf, (request, reply) => portalRemoveWebhook(context, request, reply));
  app.post('/portal/clients/:client_id/webhook/deliveries/:delivery_id/resend', csrf, (request, reply) => portalResendWebhookDelivery(context, request, reply));
  // Issue 13 "Partner teams": the team page, invitations and removals (endpoints/portal-team.ts).
  app.get('/portal/team', (request, reply) => portalTeam(context, request, reply));
  app.post('/portal/team/invitations', csrf, (request, reply) => portalInviteTeammate(context, request, reply));
  app.post('/portal/team/invitations/:invitation_id/revoke', csrf, (request, reply) => portalRevokeInvitation(context, request, reply));
  app.post('/portal/team/members/:user_id/remove', csrf, (request, reply) => portalRemoveTeammate(context, request, reply));
  // The invitee's side: nobody joins a team without accepting (endpoints/portal-invitations.ts).
  app.get('/portal/invitations', (request, reply) => portalInvitations(context, request, reply));
  app.get('/portal/invitations/:invitation_id', (request, reply) => portalInvitation(context, request, reply));
  app.post('/portal/invitations/:invitation_id/accept', csrf, (request, reply) => portalAcceptInvitation(context, request, reply));
  app.post('/portal/invitations/:invitation_id/decline', csrf, (request, reply) => portalDeclineInvitation(context, request, reply));
  // Issue 13: "Try the flow" (PKCE S256, a registered redirect URI; endpoints/portal-try-flow.ts).
  app.post('/portal/clients/:client_id/try', csrf, (request, reply) => portalTryFlow(context, request, reply));
  app.get('/portal/clients/:client_id/try', (request, reply) => portalTryFlowPage(context, request, reply));
  app.post('/portal/clients/:client_id/try/result', csrf, (request, reply) => portalTryFlowResult(context, request, reply));
  // The user's side: connected apps and the marketplace (CSRF on every form; handovers only on POST).
  app.get('/account/connected-apps', (request, reply) => connectedAppsEndpoint(context, request, reply));
  app.post('/account/connected-apps/:grant_id/disconnect', csrf, (request, reply) => disconnectEndpoint(context, request, reply));
  app.post('/account/connected-apps/:grant_id/settings', csrf, (request, reply) => connectedAppSettingsEndpoint(context, request, reply));
  app.get('/marketplace', (request, reply) => marketplaceEndpoint(context, request, reply));
  app.post('/marketplace/:client_id/connect', csrf, (request, reply) => marketplaceConnectEndpoint(context, request, reply));
  app.get('/', (request, reply) => homeEndpoint(context, request, reply));
  app.get('/account', (request, reply) => accountEndpoint(context, request, reply));
  app.get('/logos/:client_id', (request, reply) => clientLogoEndpoint(context, request, reply));
  // Sign-out and the user's sessions (issue 10 §4; CSRF and the Origin check on every form).
  app.post('/logout', csrf, (request, reply) => logoutEndpoint(context, request, reply));
  app.get('/signed-out', (request, reply) => signedOutEndpoint(context, request, reply));
  app.get('/account/sessions', (request, reply) => sessionsEndpoint(context, request, reply));
  app.post('/account/sessions/end-others', csrf, (request, reply) => endOtherSessionsEndpoint(context, request, reply));
  app.post('/account/sessions/:session_id/end', csrf, (request, reply) => endSessionEndpoint(context, request, reply));
  // Local accounts (issue 10 §3): set-password links, forgot password, the TOTP second factor (CSRF on every form).
  app.get('/account/set-password', (request, reply) => setPasswordFormEndpoint(context, request, reply));
  app.post('/account/set-password', csrf, (request, reply) => setPasswordEndpoint(context, request, reply));
  app.get('/account/forgot-password', (request, reply) => forgotPasswordFormEndpoint(context, request, reply));
  app.post('/account/forgot-password', csrf, (request, reply) => forgotPasswordEndpoint(context, request, reply));
  app.get('/login/second-factor', (request, reply) => secondFactorFormEndpoint(context, request, reply));
  app.post('/login/second-factor', csrf, (request, reply) => secondFactorEndpoint(context, throttle, request, reply));
  app.get('/account/security', (request, reply) => securityEndpoint(context, request, reply));
  app.post('/account/security/enrol', csrf, (request, reply) => startEnrolmentEndpoint(context, request, reply));
  app.get('/account/security/enrol', (request, reply) => enrolmentEndpoint(context, request, reply));
  app.post('/account/security/confirm', csrf, (request, reply) => confirmEnrolmentEndpoint(context, request, reply));
  app.post('/account/security/disable', csrf, (request, reply) => disableSecondFactorEndpoint(context, throttle, request, reply));
  // Issue 13 "Languages": the language switch of every page (a same-origin return path only).
  app.get('/language', (request, reply) => languageEndpoint(context, request, reply));
  // The administrators' console (platform administrators; CSRF and the Origin check on every form; issue 13).
  app.get('/admin', (request, reply) => consoleHome(context, request, reply));
  app.get('/admin/clients', (request, reply) => consoleClients(context, request, reply));
  app.post('/admin/clients/:client_id/:action', csrf, (request, reply) => consoleClientAction(context, request, reply));
  app.get('/admin/grants', (request, reply) => consoleGrants(context, request, reply));
  app.post('/admin/grants/:grant_id/revoke', csrf, (request, reply) => consoleRevokeGrant(context, request, reply));
  app.get('/admin/audit', (request, reply) => consoleAudit(context, request, reply));
  app.get('/admin/audit/export', (request, reply) => consoleAuditExport(context, request, reply));
  // Issue 16, API keys: standalone keys (account), integrated keys (marketplace, connected apps); CSRF on every form.
  app.get('/account/api-keys', (request, reply) => apiKeysEndpoint(context, request, reply));
  app.get('/account/api-keys/new', (request, reply) => newApiKeyEndpoint(context, request, reply));
  app.post('/account/api-keys', csrf, (request, reply) => createApiKeyEndpoint(context, request, reply));
  app.get('/account/api-keys/:key_id/created', (request, reply) => createdApiKeyEndpoint(context, request, reply));
  app.post('/account/api-keys/:key_id/delete', csrf, (request, reply) => deleteApiKeyEndpoint(context, request, reply));
  app.post('/marketplace/:client_id/api-key', csrf, (request, reply) => installApiKeyEndpoint(context, request, reply));
  app.post('/account/connected-apps/api-keys/:key_id/revoke', csrf, (request, reply) => revokeIntegratedApiKeyEndpoint(context, request, reply));
  app.get('/admin/api-keys', (request, reply) => consoleApiKeys(context, request, reply));
  app.post('/admin/api-keys/:key_id/revoke', csrf, (request, reply) => consoleRevokeApiKey(context, request, reply));
  // Console (issue 13): the reviewed logo of a branding change, and the directory views.
  app.get('/admin/clients/:client_id/reviewed-logo', (request, reply) => consoleReviewedLogo(context, request, reply));
  app.get('/admin/users', (request, reply) => consoleUsers(context, request, reply));
  app.get('/admin/users/:user_id', (request, reply) => consoleUser(context, request, reply));
  app.post('/admin/users/:user_id/memberships/:subject_type/:subject_id/remove', csrf, (request, reply) => consoleRemoveMembership(context, request, reply));
  app.get('/admin/companies', (request, reply) => consoleSubjects(context, request, reply, 'company'));
  app.get('/admin/organizations', (request, reply) => consoleSubjects(context, request, reply, 'organization'));
  // Encapsulated: its bearer authentication, error rendering, image body parser and OpenAPI document stay inside.
  await app.register(adminApi(context), { prefix: ADMIN_API_PREFIX });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/health/ready', (request, reply) => readinessEndpoint(context, request, reply));
  app.get('/assets/gatehouse.css', async (_request, reply) => {
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET);
  });
  app.get('/assets/portal.js', async (_request, reply) => {
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(PORTAL_SCRIPT);
  });
}

/**
 * Renders OAuthErrors as RFC 6749 §5.2 JSON (no-store); `invalid_client` answers 401 with
 * `WWW-Authenticate: Basic`. An unreachable storage is `503 temporarily_unavailable` with `Retry-After`
 * (SPEC decision 18). Anything else is logged and becomes `server_error`.
 */
function json(handler: Handler): Handler {
  return async (request, reply) => {
    try {
      await handler(request, reply);
    } catch (error) {
      if (isStorageUnavailable(error)) {
        request.log.warn({ err: error }, 'storage unavailable at an OAuth endpoint');
        sendStorageUnavailableJson(reply);
        return;
      }
      if (error instanceof RateLimitExceededError) {
        sendRateLimited(request, reply, error);
        return;
      }
      if (!(error instanceof OAuthError)) {
        request.log.error({ err: error }, 'unexpected error at an OAuth endpoint');
        sendNoStoreJson(reply, 500, new OAuthError('server_error', 'unexpected error').toJSON());
        return;
      }
      if (error.code === 'invalid_client') reply.header('www-authenticate', 'Basic realm="oauth", charset="UTF-8"');
      sendNoStoreJson(reply, error.status, error.toJSON());
    }
  };
}
