/**
 * "Try the flow" on a client's portal page (issue 13): starts a real authorization request for one of the
 * client's registered redirect URIs, with PKCE S256 (SPEC decision 2) and `state` (SPEC decision 3), and
 * shows what came back.
 *
 * Design (the simplest correct one; the portal registers nothing new): the code goes where every code of
 * this client goes, to the redirect URI the partner registered, which the portal cannot receive. So the
 * developer opens the authorization URL, consents, lands on their redirect URI (a loopback address with
 * nothing listening still shows the address in the browser's address bar), and pastes that address back
 * into the portal. The portal then checks it and shows the `code` and `state` (or the `error` and its
 * description) and the curl command that exchanges the code, prefilled with the PKCE verifier.
 *
 * The verifier never leaves the server before that page and is stored nowhere: `state` is
 * `<random>.<expires_at>.<HMAC>` over the developer, the client and the redirect URI, and the verifier is
 * an HMAC of the state under a key derived from the server's token HMAC key; so only this server can
 * recompute it, for this developer, this client and this redirect URI, until the state expires (10
 * minutes). The client secret is never in a URL or on these pages (curl reads it from an environment
 * variable). `iss` must be this issuer (RFC 9207 §2.4).
 *
 * - `POST /portal/clients/:client_id/try` (`redirect_uri`): starts a trial, 303 to its page:
 * - `GET /portal/clients/:client_id/try?redirect_uri=…&state=…`: the authorization URL and the paste form.
 * - `POST /portal/clients/:client_id/try/result` (`callback_url`): what came back.
 * The POSTs are CSRF- and Origin-checked (routes.ts); a client of another team is a 404 (portal.ts `ownClient`).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { constantTimeEqual } from '@gatehouse/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { tryFlowPage, tryFlowResultPage } from '../pages/portal-try-flow-pages.ts';
import type { ServerContext } from '../server-context.ts';
import type { ClientRecord } from '../storage/storage.ts';
import { challengeOf } from '../grants/pkce.ts';
import { derivedKey } from '../tokens/derived-key.ts';
import { authorizationServerMetadata } from './metadata.ts';
import { developer, ownClient, page, type SignedInDeveloper } from './portal.ts';
import { portalMessagePage } from '../pages/portal-pages.ts';

/** How long a trial's state (and so its verifier) can be used. */
export const TRY_FLOW_LIFETIME_SECONDS = 600;
const LIFETIME_MINUTES = TRY_FLOW_LIFETIME_SECONDS / 60;

type Body = Record<string, unknown>;

/** The key of trial states and their PKCE verifiers, for this purpose only (derived-key.ts: HKDF, never the token HMAC key itself). */
const trialKey = (context: ServerContext) => derivedKey(context.options.tokenHmacKey, 'gatehouse portal flow trial');

function stateMac(context: ServerContext, parts: string[]): string {
  return createHmac('sha256', trialKey(context)).update(parts.join('\n')).digest('base64url');
}

/** The PKCE verifier of a state (RFC 7636 §4.1: 43 characters of base64url, 256 bits). */
const verifierOf = (context: ServerContext, state: string) => createHmac('sha256', trialKey(context)).update(`verifier\n${state}`).digest('base64url');

/** What the authorization server adds to a redirect URI's query (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207 §2). */
const RESPONSE_PARAMETERS = new Set(['code', 'state', 'iss', 'error', 'error_description', 'error_uri']);

/**
 * The registered redirect URI a pasted address was sent to: the same scheme, host and path, and, once the
 * response's parameters are taken out, the registered query's parameters in their order (RFC 6749 §3.1.2:
 * a registered query is kept and the response is added to it). Undefined when it is none of them.
 */
function registeredRedirectUri(client: ClientRecord, landed: URL): string | undefined {
  const ownParameters = [...landed.searchParams].filter(([name]) => !RESPONSE_PARAMETERS.has(name));
  return client.redirectUris.find((uri) => {
    const registered = URL.parse(uri);
    return registered !== null && registered.protocol === landed.protocol && registered.host === landed.host && registered.pathname === landed.pathname
      && isDeepStrictEqual([...registered.searchParams], ownParameters);
  });
}

/** A state made for this developer, client and redirect URI, still valid at `now`. */
function stateIsOurs(context: ServerContext, state: string, userId: string, clientId: string, redirectUri: string, now: number): boolean {
  const match = /^([A-Za-z0-9_-]{22})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(state);
  if (!match) return false;
  const [, random, expiresAt, mac] = match as unknown as [string, string, string, string];
  return constantTimeEqual(mac, stateMac(context, [userId, clientId, redirectUri, random, expiresAt])) && Number(expiresAt) > now;
}

async function teamClient(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<{ signedIn: SignedInDeveloper; client: ClientRecord } | undefined> {
  const signedIn = await developer(context, request, reply);
  if (!signedIn) return undefined;
  const client = await ownClient(context, reply, signedIn.frame, signedIn.user, (request.params as { client_id: string }).client_id);
  return client ? { signedIn, client } : undefined;
}

/**
 * POST /portal/clients/:client_id/try: starts a trial and answers 303 to its page (Post/Redirect/Get), so that a
 * reload or the language switch (a link back to the page's address) shows the same authorization URL again instead of
 * resending the form or losing the URL (the switch went back to the client's page).
 */
export async function portalTryFlow(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const found = await teamClient(context, request, reply);
  if (!found) return;
  const { signedIn, client } = found;
  const body = (request.body ?? {}) as Body;
  // SPEC decision 4: only a registered redirect URI, by exact string comparison.
  const redirectUri = client.redirectUris.find((uri) => uri === body.redirect_uri) ?? client.redirectUris[0]!;
  const random = randomBytes(16).toString('base64url');
  const expiresAt = String(context.clock.nowSeconds() + TRY_FLOW_LIFETIME_SECONDS);
  const state = `${random}.${expiresAt}.${stateMac(context, [signedIn.user.userId, client.clientId, redirectUri, random, expiresAt])}`;
  // The state is no secret (it is in the authorization URL): the verifier is an HMAC of it under this server's key.
  reply.header('cache-control', 'no-store').redirect(`/portal/clients/${client.clientId}/try?${new URLSearchParams({ redirect_uri: redirectUri, state })}`, 303);
}

/**
 * GET /portal/clients/:client_id/try?redirect_uri=…&state=…: the trial's page, the authorization URL made again from
 * the state, for the developer who started it, while it lasts; else a page saying it ended, with the way to start again.
 */
export async function portalTryFlowPage(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const found = await teamClient(context, request, reply);
  if (!found) return;
  const { signedIn, client } = found;
  const query = (request.query ?? {}) as Body;
  const redirectUri = client.redirectUris.find((uri) => uri === query.redirect_uri);
  const state = typeof query.state === 'string' ? query.state : '';
  if (redirectUri === undefined || !stateIsOurs(context, state, signedIn.user.userId, client.clientId, redirectUri, context.clock.nowSeconds())) {
    const t = signedIn.frame.t!;
    page(reply, 400, portalMessagePage(signedIn.frame, t.t('tryFlow.heading'), t.t('tryFlow.ended', { minutes: LIFETIME_MINUTES }),
      { href: `/portal/clients/${client.clientId}#try`, label: t.t('tryFlow.again') }));
    return;
  }
  const metadata = authorizationServerMetadata(context) as Record<string, string>;
  const url = new URL(metadata.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: 'code', client_id: client.clientId, redirect_uri: redirectUri, scope: client.scopes.join(' '), state,
    code_challenge: challengeOf(verifierOf(context, state)), code_challenge_method: 'S256',
  }).toString();
  page(reply, 200, tryFlowPage({ ...signedIn.frame, client, redirectUri, authorizationUrl: url.toString(), lifetimeMinutes: LIFETIME_MINUTES }));
}

/** POST /portal/clients/:client_id/try/result */
export async function portalTryFlowResult(context: ServerContext, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const found = await teamClient(context, request, reply);
  if (!found) return;
  const { signedIn, client } = found;
  const t = signedIn.frame.t!;
  const pasted = typeof (request.body as Body | undefined)?.callback_url === 'string' ? ((request.body as Body).callback_url as string).trim() : '';
  // A refused address comes back in its field, with the reason below it (it may only need a fix).
  const refuse = (message: string) => page(reply, 400, tryFlowResultPage({ ...signedIn.frame, client, pasted, problem: message, lifetimeMinutes: LIFETIME_MINUTES }));
  let url: URL;
  try {
    url = new URL(pasted);
  } catch {
    return refuse(t.t('tryFlow.notAnAddress'));
  }
  const redirectUri = registeredRedirectUri(client, url);
  if (!redirectUri) return refuse(t.t('tryFlow.notRedirectUri'));
  const state = url.searchParams.get('state') ?? '';
  if (!stateIsOurs(context, state, signedIn.user.userId, client.clientId, redirectUri, context.clock.nowSeconds())) return refuse(t.t('tryFlow.stateUnknown'));
  // RFC 9207 §2.4: the response names this issuer.
  const issuer = url.searchParams.get('iss');
  if (issuer !== null && issuer !== context.options.issuer) return refuse(t.t('tryFlow.wrongIssuer', { iss: issuer }));
  const error = url.searchParams.get('error');
  if (error !== null) {
    page(reply, 200, tryFlowResultPage({ ...signedIn.frame, client, pasted, lifetimeMinutes: LIFETIME_MINUTES, error, errorDescription: url.searchParams.get('error_description') ?? undefined, state }));
    return;
  }
  const code = url.searchParams.get('code');
  if (!code) return refuse(t.t('tryFlow.noCode'));
  const metadata = authorizationServerMetadata(context) as Record<string, string>;
  page(reply, 200, tryFlowResultPage({
    ...signedIn.frame, client, pasted, lifetimeMinutes: LIFETIME_MINUTES, code, state, issuerChecked: issuer !== null,
    exchange: { tokenEndpoint: metadata.token_endpoint!, redirectUri, codeVerifier: verifierOf(context, state) },
  }));
}
